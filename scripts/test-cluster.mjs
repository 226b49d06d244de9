#!/usr/bin/env node
// `npm run test:cluster`: the Kubernetes backend on a real cluster. Runs
// scenarios/kind-smoke.yaml (cluster/kind/up.sh makes the cluster it expects) when KUBECONFIG
// is set, then `harness chaos cleanup` to prove nothing was left behind; exits with the
// first failure. Without KUBECONFIG it prints one line saying why it skipped and exits 0.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const scenario = "scenarios/kind-smoke.yaml";
if (!process.env.KUBECONFIG) {
  console.log(
    `test:cluster skipped: KUBECONFIG is not set (no cluster to run ${scenario} against; see cluster/kind/up.sh)`,
  );
  process.exit(0);
}
const harness = (...args) =>
  spawnSync(process.execPath, ["scripts/harness.mjs", ...args], { cwd: root, stdio: "inherit" }).status ?? 1;
const run = harness("run", scenario, "--db", "runs/kind-smoke.duckdb", "--report");
// Anything the cleanup finds is something the run left behind: a failure.
const c = spawnSync(process.execPath, ["scripts/harness.mjs", "chaos", "cleanup", scenario, "--json"], {
  cwd: root,
  stdio: ["ignore", "pipe", "inherit"],
  encoding: "utf8",
});
const left = c.status === 0 ? JSON.parse(c.stdout).removed : null;
if (left === null) console.error("test:cluster: chaos cleanup failed");
else if (left.length > 0) console.error(`test:cluster: the run left behind: ${left.join(", ")}`);
process.exit(run !== 0 ? run : left === null || left.length > 0 ? 1 : 0);
