/**
 * The controller against the real local testbed (replicas, load, real Prometheus and the
 * PromQL collector), as `harness controller` runs it:
 * - in process: it observes real metrics; with Prometheus stopped (SIGSTOP: it holds every
 *   connection and answers nothing, the harder outage than a refused port) it keeps
 *   stepping, records each blind step and refuses every action (`MetricsUnavailable`), and
 *   once Prometheus runs again it observes again by itself; nothing is left behind;
 * - as the CLI: SIGTERM while a chaos fault is live clears it, stops the testbed, exits 0,
 *   and leaves no process, cgroup, listening port or temporary file.
 * Every wait is on an audit record or a process event; the test timeouts are for a loaded
 * 2-core machine, where starting a testbed takes tens of seconds.
 */
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, watch, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { LocalBackend } from "../../cluster/local/backend.ts";
import { cliLeftovers, markedProcesses, runCli } from "../../cluster/local/cli-run.ts";
import { leftovers, listeningPorts, processAlive } from "../../cluster/local/leftovers.ts";
import { findExecutable } from "../../cluster/prometheus/runner.ts";
import { type Backend, Missing } from "../core/contract.ts";
import { TraceStore } from "../store.ts";
import { controllerConfigSchema } from "./config.ts";
import { type AuditRecord, nextAudits, startController } from "./controller.ts";

const canRun = process.platform === "linux" && findExecutable("prometheus") !== null;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type StepAudit = Extract<AuditRecord, { type: "step" }> & {
  record: { reason: string; observed: { missing: number } };
};
const isStep = (r: AuditRecord): r is StepAudit => r.type === "step";

/**
 * A controller on a fresh testbed, in approve mode with a random policy proposing an action
 * every step: none runs unasked, so the testbed stays as it is and every refusal names its
 * reason. Stopped by the test (`stop`) or, if the test fails first, by the cleanup.
 */
async function startOnTestbed(name: string) {
  const dir = mkdtempSync(join(tmpdir(), `controller-${name}-`));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const config = controllerConfigSchema.parse({
    name,
    backend: "local",
    intervalS: 1,
    mode: "approve",
    policy: { name: "random", params: { actProb: 1 } },
    minIntervalS: 0,
    minReplicas: 1,
    maxReplicas: 4,
    local: { replicas: 2, rps: 20 },
    listen: { port: 0 },
    batchSteps: 3,
  });
  let local: LocalBackend | null = null;
  const ctl = await startController(
    { config, fileName: `${name}.yaml`, text: "" },
    {
      cwd: dir,
      wrapBackend: (b: Backend) => {
        local = b as LocalBackend;
        return b;
      },
    },
  );
  let stopped = false;
  cleanups.push(async () => {
    if (!stopped) await ctl.stop();
  });
  const stop = () => {
    stopped = true;
    return ctl.stop();
  };
  return { dir, ctl, testbed: local!.testbed, stop };
}

describe.skipIf(!canRun)("harness controller on the local testbed", () => {
  it("observes real metrics, refuses to act while Prometheus is stopped, and recovers by itself when it runs again", async () => {
    const { dir, ctl, testbed, stop } = await startOnTestbed("tb");
    const prom = testbed.prometheus!;
    // Everything the testbed runs and listens on, for the leftover check at the end.
    const status = testbed.status();
    const pids = [prom.pid, ...status.pods.map((p) => p.pid).filter((p): p is number => p !== null)];
    const ports = [prom.port, Number(new URL(status.exporterUrl).port)];

    // 1. Real observations: every metric present, and the policy's actions await approval.
    const seen = await nextAudits(ctl, (r) => isStep(r) && r.record.observed.missing === 0, 3);
    expect(seen).toHaveLength(3);

    // 2. Prometheus stops answering.
    process.kill(prom.pid, "SIGSTOP");
    let resumed = false;
    const resume = () => {
      if (!resumed) process.kill(prom.pid, "SIGCONT");
      resumed = true;
    };
    cleanups.push(resume);
    const blindEvent = nextAudits(
      ctl,
      (r) => r.type === "event" && r.event.kind === "backend-error" && r.event.detail.includes("observe failed"),
    );
    const refused = await nextAudits(
      ctl,
      (r) => isStep(r) && r.record.reason === "MetricsUnavailable" && r.record.observed.missing !== 0,
      2,
    );
    expect(refused).toHaveLength(2);
    // A hung Prometheus is cut by the step's call timeout (the collector's own 5 s is longer).
    expect(((await blindEvent)[0] as Extract<AuditRecord, { type: "event" }>).event.detail).toMatch(
      /^observe failed after retries: /,
    );
    const duringOutage = (refused.at(-1) as StepAudit).step;

    // 3. Prometheus runs again: the controller observes again without being told.
    resume();
    const back = await nextAudits(ctl, (r) => isStep(r) && r.step > duringOutage && r.record.observed.missing === 0, 2);
    expect(back).toHaveLength(2);
    expect((await fetch(`${ctl.url}/ready`)).status).toBe(200);

    // 4. Stopped: nothing left, and the outage is in the trace store's steps.
    expect(await stop()).toEqual([]);
    expect(leftovers({ testbedId: testbed.id, pids, ports, dirs: [prom.dir] })).toEqual([]);
    const store = await TraceStore.open(join(dir, "runs/controller.duckdb"));
    try {
      const rows = await store.query(
        `SELECT r.reason, count(*)::INTEGER AS n, count(*) FILTER (WHERE s.missing <> 0)::INTEGER AS blind
             FROM steps s JOIN guard_reasons r ON r.code = s.reason GROUP BY ALL`,
      );
      const by = Object.fromEntries(rows.map((r) => [r.reason, r]));
      expect(by.MetricsUnavailable?.n).toBeGreaterThanOrEqual(2);
      expect(by.MetricsUnavailable?.blind).toBe(by.MetricsUnavailable?.n);
      // No step ran an action: approve mode, and nobody approved.
      const [ran] = await store.query("SELECT count(*)::INTEGER AS n FROM steps WHERE applied");
      expect(ran!.n).toBe(0);
    } finally {
      await store.close();
    }
  }, 600_000);

  it("survives kill -9 of the load generator and of the balancer: records each loss, refuses to act on the traffic values meanwhile, and observes fully again once the testbed restarts them", async () => {
    const { dir, ctl, testbed, stop } = await startOnTestbed("traffic");
    // Every wait fails at once if the loop ends: surviving is what is under test.
    const loopEnded = ctl.done.then((e) => {
      throw new Error(`the controller's loop ended: ${e ?? "without an error"}`);
    });
    loopEnded.catch(() => {});
    const alive = <T>(p: Promise<T>): Promise<T> => Promise.race([p, loopEnded]);
    const isTraffic = (re: RegExp) => (r: AuditRecord) =>
      r.type === "event" && (r.event.kind as string) === "traffic" && re.test(r.event.detail);
    const TRAFFIC_BITS = Missing.Latency | Missing.ErrorRate | Missing.RequestRate;

    await alive(nextAudits(ctl, (r) => isStep(r) && r.record.observed.missing === 0, 2));

    // 1. The load generator is killed.
    const loadgenPid = testbed.loadgen!.pid;
    const lost = nextAudits(ctl, isTraffic(new RegExp(`^load generator \\(pid ${loadgenPid}\\) exited \\(SIGKILL\\)`)));
    const blind = nextAudits(
      ctl,
      (r) =>
        isStep(r) &&
        (r.record.observed.missing & TRAFFIC_BITS) === TRAFFIC_BITS &&
        r.record.reason === "MetricsUnavailable",
    );
    const restarted = nextAudits(ctl, isTraffic(/^load generator restarted \(pid \d+, restart 1\)$/));
    process.kill(loadgenPid, "SIGKILL");
    await alive(lost);
    // Meanwhile the loop goes on; no action is taken on the traffic values of an outage.
    await alive(blind);
    const [back] = await alive(restarted);
    expect(testbed.loadgen!.pid).not.toBe(loadgenPid);
    expect(processAlive(testbed.loadgen!.pid)).toBe(true);
    // Full observations again, after the rate window has left the outage behind.
    const seen = await alive(nextAudits(ctl, (r) => isStep(r) && r.record.observed.missing === 0, 2));
    expect(seen).toHaveLength(2);
    expect(back).toBeDefined();

    // 2. The balancer is killed: restarted on its own port, traffic flows through it again.
    const balancerPid = testbed.balancer!.pid;
    const balancerPort = testbed.balancer!.port;
    const lbLost = nextAudits(ctl, isTraffic(new RegExp(`^balancer \\(pid ${balancerPid}\\) exited \\(SIGKILL\\)`)));
    const lbBack = nextAudits(ctl, isTraffic(/^balancer restarted \(pid \d+, restart 1\)$/));
    process.kill(balancerPid, "SIGKILL");
    await alive(lbLost);
    await alive(lbBack);
    expect(testbed.balancer!.port).toBe(balancerPort);
    await alive(nextAudits(ctl, (r) => isStep(r) && r.record.observed.missing === 0, 2));
    expect((await fetch(`${ctl.url}/ready`)).status).toBe(200);

    // 3. Stopped: every process, old and restarted, gone; no cgroup, port or directory left.
    const footprint = testbed.footprint;
    expect(footprint.pids).toEqual(expect.arrayContaining([loadgenPid, balancerPid, testbed.loadgen!.pid]));
    expect(await stop()).toEqual([]);
    expect(leftovers(footprint)).toEqual([]);
    // The loss and the restarts are in the trace store's events too.
    const store = await TraceStore.open(join(dir, "runs/controller.duckdb"));
    try {
      const rows = await store.query(
        "SELECT detail FROM events WHERE kind = 'traffic' AND (detail LIKE '%exited%' OR detail LIKE '%restarted%') ORDER BY seq",
      );
      expect(rows.map((r) => String(r.detail).replace(/\d+/g, "N"))).toEqual([
        "load generator (pid N) exited (SIGKILL); restart in N ms",
        "load generator restarted (pid N, restart N)",
        "balancer (pid N) exited (SIGKILL); restart in N ms",
        "balancer restarted (pid N, restart N)",
      ]);
    } finally {
      await store.close();
    }
  }, 600_000);

  it("as the CLI: SIGTERM while a chaos fault is live clears it, exits 0, and leaves no process, cgroup, port or file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "controller-cli-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const audit = join(dir, "audit.jsonl");
    const configFile = join(dir, "c.yaml");
    writeFileSync(
      configFile,
      [
        "name: sigterm",
        "backend: local",
        "intervalS: 1",
        "mode: observe-only",
        `store: ${join(dir, "c.duckdb")}`,
        `audit: ${audit}`,
        `stateFile: ${join(dir, "c.state.json")}`,
        "listen: { port: 0 }",
        "local: { replicas: 2, rps: 20 }",
        "chaos:",
        "  intervalS: 1",
        "  namespaces: [chaos-rl]",
        // Live far longer than the test: only SIGTERM's cleanup can end it.
        "  faults: [{ type: cpu-stress, durationS: 600, load: 0.5 }]",
        "",
      ].join("\n"),
    );
    writeFileSync(audit, "");
    const marker = `controller-sigterm-${process.pid}-${Date.now()}`;
    const run = runCli(["controller", "--config", configFile], marker);
    cleanups.push(() => {
      for (const pid of markedProcesses(marker)) process.kill(pid, "SIGKILL");
      rmSync(run.tmp, { recursive: true, force: true });
    });

    // Waits for the chaos injection in the audit file (fs.watch: an event, not a poll).
    const injected = await new Promise<boolean>((resolve) => {
      const seen = () => readFileSync(audit, "utf8").includes('"what":"chaos-injected"');
      const w = watch(audit, () => {
        if (seen()) {
          w.close();
          resolve(true);
        }
      });
      void run.exited.then(() => {
        w.close();
        resolve(seen());
      });
      if (seen()) {
        w.close();
        resolve(true);
      }
    });
    expect(injected, run.output()).toBe(true);

    // What the controller runs now: its processes (stress-ng among them) and their listening ports.
    const pids = markedProcesses(marker);
    const names = pids.map(commOf);
    expect(names).toEqual(expect.arrayContaining(["prometheus", "stress-ng"]));
    const ports = listeningPortsOf(pids);
    expect(ports.length).toBeGreaterThanOrEqual(3); // the controller's API, Prometheus, the exporter, ...

    run.kill("SIGTERM");
    const { code, stderr } = await run.exited;
    expect(code, stderr).toBe(0);
    expect(stderr).toContain("controller: stopped, nothing left behind");
    expect(cliLeftovers(run)).toEqual([]);
    const listening = listeningPorts();
    expect(ports.filter((p) => listening.has(p))).toEqual([]);
    const lines = readFileSync(audit, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as AuditRecord);
    expect(lines.at(-1)).toMatchObject({ type: "controller", what: "stopped", detail: "clean" });
    // The fault was cleared by the stop, and the audit trail says so.
    expect(lines).toContainEqual(
      expect.objectContaining({
        what: "chaos-cleared",
        detail: expect.stringMatching(/cpu-stress\) cleared by stop$/),
      }),
    );
  }, 600_000);
});

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "?";
  }
}

/** Loopback ports in LISTEN state whose sockets one of `pids` holds (via /proc/PID/fd and /proc/net/tcp). */
function listeningPortsOf(pids: readonly number[]): number[] {
  const inodes = new Set<string>();
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]!);
      } catch {
        // closed meanwhile
      }
    }
  }
  const ports = new Set<number>();
  for (const f of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(f, "utf8").split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === "0A" && inodes.has(cols[9]!)) ports.add(Number.parseInt(cols[1]!.split(":")[1]!, 16));
    }
  }
  return [...ports];
}
