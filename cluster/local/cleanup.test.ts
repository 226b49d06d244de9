/**
 * Nothing is left behind (issue 13): a local run stopped by Ctrl-C or SIGTERM in the middle
 * of an episode, or failing because a replica never becomes ready, stops every process it
 * started (replicas, stressors, balancer, load generator, Prometheus), removes its cgroups
 * and Prometheus's data directory, and exits non-zero.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { findExecutable } from "../prometheus/runner.ts";
import { cliLeftovers, isStressNg, markedProcesses, runCli } from "./cli-run.ts";
import { waitFor } from "./wait.ts";

const ready = ["prometheus", "stress-ng"].every((t) => findExecutable(t) !== null);
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function scenario(extra: string): string {
  const dir = mkdtempSync(join(tmpdir(), "chaos-rl-scn-"));
  dirs.push(dir);
  const file = join(dir, "local.yaml");
  writeFileSync(
    file,
    `name: local-cleanup
backend: local
stepSeconds: 1
steps: 60
seeds: [1]
workload: { baseRps: 10, noise: 0 }
${extra}
matrix:
  fault: [{ type: cpu-stress, durationS: 50 }]
  frequency: { once: { kind: fixed, intervalS: 1000, offsetS: 1 } }
  policy: [none]
`,
  );
  return file;
}

describe.skipIf(!ready)("a local run leaves nothing behind", () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`when stopped by ${signal} with a fault live`, async () => {
      const file = scenario("local: { replicas: 2 }");
      const run = runCli(["run", file, "--db", join(dirs[0]!, "r.duckdb")], randomUUID());
      dirs.push(run.tmp);
      // Up means: harness, balancer, load generator, replicas, Prometheus, and the stressor.
      await waitFor(() => markedProcesses(run.marker).some(isStressNg), {
        // Opening the testbed comes first: a minute or more on a busy 2-core machine.
        timeoutMs: 180_000,
        what: "the cpu-stress fault to be live",
      });
      run.kill(signal);
      const r = await run.exited;
      expect(r.code, r.stderr.slice(-1500)).toBe(130);
      expect(cliLeftovers(run)).toEqual([]);
    }, 240_000);
  }

  it("when a replica never becomes ready: one clear error, exit 1", async () => {
    const file = scenario("local: { replicas: 1, startTimeoutMs: 200 }");
    const run = runCli(["run", file, "--db", join(dirs[0]!, "r.duckdb")], randomUUID());
    dirs.push(run.tmp);
    const r = await run.exited;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/replica never became ready within 200 ms: demo-/);
    expect(cliLeftovers(run)).toEqual([]);
  }, 120_000);
});
