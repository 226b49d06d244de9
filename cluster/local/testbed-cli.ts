/**
 * `harness testbed up|status|down` (issue 13, part 8): the local testbed by hand, for
 * dashboards and the agent service.
 * - `up` starts it (replicas, exporter, balancer, load generator at `--rps`, Prometheus) and
 *   stays in the foreground until Ctrl-C/SIGTERM, keeping a state file with what runs where
 *   (refreshed every second); `--detach` starts that foreground process in the background
 *   and returns once the testbed is up.
 * - `status` prints the state file's view (pods, ports, URLs, mechanisms) if its process lives.
 * - `down` sends that process SIGTERM, waits for it to stop everything, and lists anything
 *   left behind (exit 1 if so).
 * One line and a non-zero exit for bad environments: Prometheus missing (names the package),
 * a port in use, a replica that never becomes ready.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Argv, CommandModule } from "yargs";
import { z } from "zod";
import { HarnessError } from "../../harness/core/errors.ts";
import { leftovers } from "./leftovers.ts";
import type { Testbed, TestbedStatus } from "./testbed.ts";

const DEFAULT_STATE = "runs/testbed.json";
const HARNESS = fileURLToPath(new URL("../../scripts/harness.mjs", import.meta.url));

const stateSchema = z.object({
  pid: z.number().int(),
  startedAt: z.string(),
  rps: z.number(),
  status: z.custom<TestbedStatus>((v) => typeof v === "object" && v !== null),
  /** `up --kube-api`: the Kubernetes API facade's address and the kubeconfig pointing at it. */
  kubeApi: z.object({ url: z.string(), kubeconfig: z.string() }).optional(),
  footprint: z.object({
    testbedId: z.string(),
    pids: z.array(z.number()),
    ports: z.array(z.number()),
    dirs: z.array(z.string()),
  }),
});
type State = z.infer<typeof stateSchema>;

function writeState(file: string, state: State): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

export function readState(file: string): State | null {
  if (!existsSync(file)) return null;
  return stateSchema.parse(JSON.parse(readFileSync(file, "utf8")));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function formatStatus(s: State): string {
  const st = s.status;
  const lines = [
    `testbed ${st.id} (pid ${s.pid}, up since ${s.startedAt}), ${st.namespace}/${st.deployment}: ${st.pods.filter((p) => p.ready).length}/${st.desiredReplicas} ready, load ${s.rps} rps`,
    `  balancer    ${st.balancerUrl}  (GET /api/work)`,
    `  exporter    ${st.exporterUrl}  (/metrics/kube-state-metrics, /metrics/cadvisor)`,
    `  prometheus  ${st.prometheusUrl ?? "not started"}`,
    ...(s.kubeApi ? [`  kube-api    ${s.kubeApi.url}  (KUBECONFIG=${s.kubeApi.kubeconfig})`] : []),
    `  limits      ${st.mechanisms.limits}: ${st.mechanisms.limitsDetail}`,
    "  pods:",
    ...st.pods.map(
      (p) =>
        `    ${p.name.padEnd(24)} ${p.state.padEnd(17)} port ${String(p.port ?? "-").padEnd(6)} pid ${String(p.pid ?? "-").padEnd(8)} restarts ${p.restarts}${p.drained ? " drained" : ""}`,
    ),
  ];
  return `${lines.join("\n")}\n`;
}

interface UpArgs {
  state: string;
  replicas: number;
  rps: number;
  detach: boolean;
  "prometheus-port"?: number;
  "balancer-port"?: number;
  "kube-api": boolean;
  kubeconfig: string;
}

async function up(argv: UpArgs): Promise<void> {
  const existing = readState(argv.state);
  if (existing && alive(existing.pid)) {
    throw new HarnessError(
      "testbed_failed",
      `a testbed is already up (pid ${existing.pid}); run harness testbed down --state ${argv.state}`,
    );
  }
  if (argv.detach) {
    const args = [
      "testbed",
      "up",
      "--state",
      argv.state,
      "--replicas",
      String(argv.replicas),
      "--rps",
      String(argv.rps),
    ];
    if (argv["prometheus-port"] !== undefined) args.push("--prometheus-port", String(argv["prometheus-port"]));
    if (argv["balancer-port"] !== undefined) args.push("--balancer-port", String(argv["balancer-port"]));
    if (argv["kube-api"]) args.push("--kube-api", "--kubeconfig", argv.kubeconfig);
    rmSync(argv.state, { force: true });
    const child = spawn(process.execPath, [HARNESS, ...args], { detached: true, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    for (;;) {
      const s = readState(argv.state);
      if (s && s.pid === child.pid) break;
      const code = await Promise.race([exited, new Promise<"wait">((r) => setTimeout(() => r("wait"), 100))]);
      if (code !== "wait")
        throw new HarnessError(
          "testbed_failed",
          stderr.trim().split("\n").at(-1) ?? `testbed exited with code ${code}`,
        );
    }
    child.stderr!.destroy();
    child.unref();
    process.stdout.write(formatStatus(readState(argv.state)!));
    return;
  }
  const ports = {
    ...(argv["prometheus-port"] === undefined ? {} : { prometheusPort: argv["prometheus-port"] }),
    ...(argv["balancer-port"] === undefined ? {} : { balancerPort: argv["balancer-port"] }),
  };
  let t: Testbed;
  let stop: () => Promise<string[]>;
  let kubeApi: State["kubeApi"];
  if (argv["kube-api"]) {
    // The testbed behind the Kubernetes API facade: `backend: cluster` runs against it with this KUBECONFIG.
    const { KubeFacade } = await import("./kube-facade.ts");
    const f = await KubeFacade.start({ deployment: { replicas: argv.replicas }, baseRps: argv.rps, ...ports });
    mkdirSync(dirname(argv.kubeconfig), { recursive: true });
    f.writeKubeconfig(argv.kubeconfig);
    t = f.testbed;
    kubeApi = { url: f.api.url, kubeconfig: argv.kubeconfig };
    stop = async () => {
      const left = await f.stop();
      rmSync(argv.kubeconfig, { force: true });
      return left;
    };
  } else {
    const { Testbed } = await import("./testbed.ts");
    const tb = await Testbed.start({ deployment: { replicas: argv.replicas }, ...ports });
    await tb.setLoadRate(argv.rps);
    t = tb;
    stop = () => tb.stop();
  }
  const startedAt = new Date().toISOString();
  const save = () =>
    writeState(argv.state, {
      pid: process.pid,
      startedAt,
      rps: argv.rps,
      status: t.status(),
      footprint: t.footprint,
      ...(kubeApi ? { kubeApi } : {}),
    });
  save();
  process.stdout.write(formatStatus(readState(argv.state)!));
  const timer = setInterval(save, 1000);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  clearInterval(timer);
  const left = await stop();
  rmSync(argv.state, { force: true });
  if (left.length > 0) {
    process.stderr.write(`testbed stopped, but left behind: ${left.join(", ")}\n`);
    process.exitCode = 1;
  } else process.stderr.write("testbed stopped; nothing left behind\n");
}

async function down(argv: { state: string }): Promise<void> {
  const s = readState(argv.state);
  if (!s) {
    process.stdout.write(`no testbed state at ${argv.state}: nothing to stop\n`);
    return;
  }
  if (alive(s.pid)) {
    process.kill(s.pid, "SIGTERM");
    const deadline = Date.now() + 60_000;
    while (alive(s.pid)) {
      if (Date.now() > deadline)
        throw new HarnessError("testbed_failed", `testbed process ${s.pid} did not stop within 60 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  rmSync(argv.state, { force: true });
  const left = leftovers(s.footprint);
  if (left.length > 0) throw new HarnessError("testbed_failed", `testbed stopped, but left behind: ${left.join(", ")}`);
  process.stdout.write(`testbed ${s.status.id} stopped; nothing left behind\n`);
}

export const testbedCommand: CommandModule<object, { action: string } & UpArgs & { json: boolean }> = {
  command: "testbed <action>",
  describe: "Start, inspect or stop the local testbed by hand (up | status | down)",
  builder: (y: Argv) =>
    y
      .positional("action", { choices: ["up", "status", "down"] as const, demandOption: true })
      .option("state", { type: "string", default: DEFAULT_STATE, describe: "State file: what runs where" })
      .option("replicas", { type: "number", default: 3, describe: "up: replicas of the demo service" })
      .option("rps", { type: "number", default: 20, describe: "up: load generator rate (0: no load)" })
      .option("detach", { type: "boolean", default: false, describe: "up: run in the background" })
      .option("prometheus-port", { type: "number", describe: "up: Prometheus's port (default: a free one)" })
      .option("balancer-port", { type: "number", describe: "up: the balancer's port (default: a free one)" })
      .option("kube-api", {
        type: "boolean",
        default: false,
        describe:
          "up: serve the testbed behind a Kubernetes API (pods, deployments/scale, Chaos Mesh kinds) for backend cluster",
      })
      .option("kubeconfig", {
        type: "string",
        default: "runs/testbed-kubeconfig.yaml",
        describe: "up --kube-api: where to write the kubeconfig that points at it",
      })
      .option("json", { type: "boolean", default: false, describe: "status: print the state as JSON" })
      .example("$0 testbed up --detach && $0 testbed status && $0 testbed down", "") as unknown as Argv<
      { action: string } & UpArgs & { json: boolean }
    >,
  handler: async (argv) => {
    try {
      if (argv.action === "up") return await up(argv);
      if (argv.action === "down") return await down(argv);
    } catch (err) {
      // A bad environment is one line, not a stack: what failed and what to do.
      process.stderr.write(`harness testbed ${argv.action}: ${(err as Error).message}\n`);
      process.exitCode = 1;
      return;
    }
    const s = readState(argv.state);
    if (!s || !alive(s.pid)) {
      process.stdout.write(`no testbed is up (state file ${argv.state}${s ? `, process ${s.pid} gone` : " absent"})\n`);
      process.exitCode = s ? 1 : 0;
      return;
    }
    process.stdout.write(argv.json ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s));
  },
};
