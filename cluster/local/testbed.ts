/**
 * The whole local testbed, started and stopped as one: the replicas under their supervisor,
 * the exporter of cluster series, the balancer and the load generator (their own
 * processes), and Prometheus scraping all of it. `start` undoes whatever it had started when
 * a later part fails; `stop` stops everything, removes cgroups and Prometheus's directory,
 * and says what it could not. A process exit or SIGINT/SIGTERM with no other handler stops
 * every live testbed too (Prometheus's runner does the same for its server).
 *
 * Scrape targets (one Prometheus job, `honor_labels`, targets by file_sd):
 * - `kube-state-metrics` and `kubelet` (cAdvisor): the supervisor's exporter;
 * - `ingress`: the balancer's per-upstream-pod request series (`namespace`, `pod`), the
 *   ones the collector reads, since they include network delay and failed connections;
 * - `demo`: each replica's own /metrics, labelled `kubernetes_namespace` and
 *   `kubernetes_pod_name` (the classic kubernetes-pods relabelling), so that its
 *   server-side `http_*` series stay apart from the ingress's `pod`-labelled ones.
 *
 * The balancer and the load generator are pods on a cluster: one that dies (crash, OOM,
 * `kill -9`) is restarted with the kubelet's back-off (the deployment spec's
 * `backoffBaseMs`, doubling to `backoffMaxMs`, reset after `backoffResetMs` of running),
 * the balancer on its own ports, the load generator at the last rate set (`setLoadRate`),
 * and each exit and restart is told to `onTraffic` listeners (the backend's trace).
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";
import { PrometheusError, PrometheusErrorCode } from "../prometheus/errors.ts";
import { findExecutable, type RunningPrometheus, type ScrapeTarget, startPrometheus } from "../prometheus/runner.ts";
import type { CgroupMode, PodCgroup } from "./cgroups.ts";
import { CADVISOR_PATH, type Exporter, KSM_PATH, startExporter } from "./exporter.ts";
import { leftovers } from "./leftovers.ts";
import type { DeploymentSpecInput } from "./spec.ts";
import { type Endpoint, Supervisor } from "./supervisor.ts";
import { TrafficProcess } from "./traffic.ts";

export interface TestbedOptions {
  readonly deployment?: DeploymentSpecInput;
  /** Prometheus scrape interval, seconds. @default 1 */
  readonly scrapeIntervalS?: number;
  /** Fixed ports (default: free ones picked by the kernel). */
  readonly balancerPort?: number;
  readonly exporterPort?: number;
  readonly prometheusPort?: number;
  /** Start Prometheus (the CLI's `testbed up` and every backend run do). @default true */
  readonly prometheus?: boolean;
}

/** Which mechanism stood for each Kubernetes part in this run (recorded with the run). */
export interface Mechanisms {
  readonly limits: CgroupMode;
  readonly limitsDetail: string;
  readonly podFailure: "freezer cgroup" | "SIGSTOP";
  readonly networkDelay: "delaying proxy";
  readonly stress: "stress-ng in the pod's cgroup" | "stress-ng (no cgroup)";
}

export interface TestbedStatus {
  readonly id: string;
  readonly namespace: string;
  readonly deployment: string;
  readonly desiredReplicas: number;
  readonly pods: readonly {
    name: string;
    uid: string;
    port: number | null;
    pid: number | null;
    ready: boolean;
    drained: boolean;
    restarts: number;
    state: string;
  }[];
  readonly balancerUrl: string;
  readonly exporterUrl: string;
  readonly prometheusUrl: string | null;
  readonly mechanisms: Mechanisms;
}

export type TrafficRole = "balancer" | "loadgen";

/** A traffic process's exit, restart, or failed restart (`Testbed.onTraffic`). */
export interface TrafficEvent {
  readonly role: TrafficRole;
  readonly kind: "exited" | "restarted" | "restart-failed";
  /** Wall time, ms since the epoch. */
  readonly at: number;
  readonly detail: string;
}

const ROLE_NAMES: Record<TrafficRole, string> = { balancer: "balancer", loadgen: "load generator" };

const live = new Set<Testbed>();
let handlersInstalled = false;

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  // Last resort, synchronous: kill what is left (cgroups of killed groups are removed by the kernel's rmdir on next start).
  process.on("exit", () => {
    for (const t of live) t.killNow();
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    const onSignal = () => {
      // Someone else owns the signal (the CLI aborts the run and the backend closes): leave it to them.
      if (process.listenerCount(sig) > 2) return;
      void Promise.allSettled([...live].map((t) => t.stop())).then(() => {
        process.off(sig, onSignal);
        process.kill(process.pid, sig);
      });
    };
    process.on(sig, onSignal);
  }
}

export class Testbed {
  readonly id: string;
  readonly supervisor: Supervisor;
  exporter: Exporter | null = null;
  balancer: TrafficProcess | null = null;
  loadgen: TrafficProcess | null = null;
  prometheus: RunningPrometheus | null = null;
  private readonly delays = new Map<string, number>();
  private endpointsChain: Promise<void> = Promise.resolve();
  private targetsChain: Promise<void> = Promise.resolve();
  private targetsKey = "";
  /** Scrape targets beside the testbed's own: the controller and agent using it (addScrapeTargets). */
  private extraTargets: readonly ScrapeTarget[] = [];
  private stopping: Promise<string[]> | null = null;
  /** The load generator's rate, requests per second: what a restarted one is given. */
  private loadRps = 0;
  private readonly trafficListeners = new Set<(e: TrafficEvent) => void>();
  /** Per traffic role: its back-off, restarts so far, a pending restart timer, a restart under way. */
  private readonly restarts: Record<
    TrafficRole,
    { backoffMs: number; count: number; timer: NodeJS.Timeout | null; running: Promise<void> | null }
  >;
  /** Every process started, for the leftover check. */
  private readonly pids = new Set<number>();
  private readonly ports = new Set<number>();
  private prometheusDir: string | null = null;
  private readonly scrapeIntervalS: number;
  /**
   * The group the balancer, the load generator and Prometheus run in (no limits): on a
   * cluster each is a pod with a cgroup of its own. Left in the harness's session they would
   * share its scheduling group (autogroup), and on a busy machine starve the harness, which
   * serves the kube-state-metrics and cAdvisor series, of its share of the CPU.
   */
  private system: PodCgroup | null = null;
  /** How long each part took to start, ms from the start of `start()` (run metadata, benchmarks). */
  readonly startedAfterMs: Record<"exporter" | "balancer" | "replicas" | "prometheus" | "loadgen", number> = {
    exporter: Number.NaN,
    balancer: Number.NaN,
    replicas: Number.NaN,
    prometheus: Number.NaN,
    loadgen: Number.NaN,
  };

  private constructor(o: TestbedOptions) {
    // The process's pid first: a leftover check can tell one harness's groups from another's.
    this.id = `${process.pid}-${randomBytes(3).toString("hex")}`;
    this.supervisor = new Supervisor(o.deployment ?? {}, this.id);
    this.scrapeIntervalS = o.scrapeIntervalS ?? 1;
    const base = this.supervisor.spec.backoffBaseMs;
    this.restarts = {
      balancer: { backoffMs: base, count: 0, timer: null, running: null },
      loadgen: { backoffMs: base, count: 0, timer: null, running: null },
    };
  }

  static async start(o: TestbedOptions = {}): Promise<Testbed> {
    // A missing Prometheus is known before anything starts.
    if (o.prometheus !== false && findExecutable("prometheus") === null) {
      throw new PrometheusError(
        PrometheusErrorCode.NotInstalled,
        'Prometheus is not installed: no executable "prometheus" on PATH; install the Debian package: apt-get install prometheus',
      );
    }
    const t = new Testbed(o);
    live.add(t);
    installHandlers();
    const t0 = performance.now();
    const done = (part: keyof Testbed["startedAfterMs"]) => {
      t.startedAfterMs[part] = performance.now() - t0;
    };
    try {
      const s = t.supervisor;
      t.system = s.cgroups.create("system", { cpuCores: availableParallelism(), memoryBytes: totalmem() });
      t.exporter = await startExporter(s, o.exporterPort ?? 0);
      done("exporter");
      t.ports.add(t.exporter.port);
      s.on("endpoints", (eps) => t.pushEndpoints(eps));
      s.on("event", () => {
        for (const p of s.all()) if (p.pid) t.pids.add(p.pid);
        t.pushTargets();
      });
      // Replicas, Prometheus and the traffic processes start at once: each is seconds of
      // process start-up on a busy machine, and none needs another to start. Prometheus's
      // first discovery round (~5 s) overlaps the replicas' start-up; the balancer's and the
      // replicas' targets follow as they appear.
      const prometheus =
        o.prometheus === false
          ? Promise.resolve(null)
          : startPrometheus({
              targets: t.targets(),
              scrapeIntervalS: t.scrapeIntervalS,
              ...(o.prometheusPort === undefined ? {} : { port: o.prometheusPort }),
            }).then((prom) => {
              t.prometheus = prom;
              t.prometheusDir = prom.dir;
              t.pids.add(prom.pid);
              t.ports.add(prom.port);
              t.adopt(prom.pid);
              done("prometheus");
              return prom;
            });
      // The load generator (idle until it is given a rate) needs the balancer's address.
      const traffic = TrafficProcess.start("balancer", { namespace: s.spec.namespace, port: o.balancerPort ?? 0 }).then(
        async (lb) => {
          t.balancer = lb;
          t.pids.add(lb.pid);
          t.adopt(lb.pid);
          t.ports.add(lb.port).add(lb.metricsPort);
          t.superviseTraffic("balancer", lb);
          done("balancer");
          t.pushTargets();
          const lg = await TrafficProcess.start("loadgen", { url: `${t.balancerUrl}/api/work` });
          t.loadgen = lg;
          t.pids.add(lg.pid);
          t.adopt(lg.pid);
          t.superviseTraffic("loadgen", lg);
          done("loadgen");
        },
      );
      // All settle before a failure is thrown, so that stop() knows of whatever did start.
      const settled = await Promise.allSettled([s.start().then(() => done("replicas")), prometheus, traffic]);
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
      for (const p of s.all()) if (p.pid) t.pids.add(p.pid);
      await t.pushEndpoints(s.endpoints());
      t.pushTargets();
      return t;
    } catch (err) {
      const left = await t.stop();
      if (left.length > 0) (err as Error).message += `; cleanup left: ${left.join(", ")}`;
      throw err;
    }
  }

  get balancerUrl(): string {
    return `http://127.0.0.1:${this.balancer?.port ?? 0}`;
  }

  get mechanisms(): Mechanisms {
    const mode = this.supervisor.cgroups.mode;
    return {
      limits: mode,
      limitsDetail: this.supervisor.cgroups.detail,
      podFailure: mode === "none" ? "SIGSTOP" : "freezer cgroup",
      networkDelay: "delaying proxy",
      stress: mode === "none" ? "stress-ng (no cgroup)" : "stress-ng in the pod's cgroup",
    };
  }

  /**
   * Sets the load generator's rate (requests per second) and remembers it: a restarted load
   * generator resumes at it. While the load generator is down only the remembering happens.
   */
  async setLoadRate(rps: number): Promise<void> {
    this.loadRps = rps;
    const lg = this.loadgen;
    if (!lg || lg.hasExited) return;
    // It may die during the call: then the restart applies the rate.
    await lg.setRate(rps).catch((err: unknown) => {
      if (!lg.hasExited) throw err;
    });
  }

  /** Whether a traffic process runs now (false between its death and its restart). */
  trafficUp(role: TrafficRole): boolean {
    const p = role === "balancer" ? this.balancer : this.loadgen;
    return p !== null && !p.hasExited;
  }

  /** Told of every traffic process exit and restart; returns the unsubscribe. */
  onTraffic(listener: (e: TrafficEvent) => void): () => void {
    this.trafficListeners.add(listener);
    return () => this.trafficListeners.delete(listener);
  }

  /** Adds (ms > 0) or removes (0) network delay on a pod's traffic. */
  async setDelay(pod: string, ms: number): Promise<void> {
    if (ms > 0) this.delays.set(pod, ms);
    else this.delays.delete(pod);
    await this.pushEndpoints(this.supervisor.endpoints());
  }

  delayOf(pod: string): number {
    return this.delays.get(pod) ?? 0;
  }

  status(): TestbedStatus {
    const s = this.supervisor;
    return {
      id: this.id,
      namespace: s.spec.namespace,
      deployment: s.spec.name,
      desiredReplicas: s.desiredReplicas,
      pods: s.all().map((p) => ({
        name: p.name,
        uid: p.uid,
        port: p.port,
        pid: p.pid,
        ready: p.ready,
        drained: p.drained,
        restarts: p.restarts,
        state: p.deleting ? "Terminating" : p.frozen ? "Frozen" : (p.waitingReason ?? (p.ready ? "Ready" : "Running")),
      })),
      balancerUrl: this.balancerUrl,
      exporterUrl: `http://127.0.0.1:${this.exporter?.port ?? 0}`,
      prometheusUrl: this.prometheus?.url ?? null,
      mechanisms: this.mechanisms,
    };
  }

  /** Stops everything; returns what is left behind (empty when clean). Idempotent. */
  stop(): Promise<string[]> {
    this.stopping ??= (async () => {
      const errors: string[] = [];
      const attempt = async (what: string, f: () => Promise<unknown> | unknown) => {
        try {
          await f();
        } catch (err) {
          errors.push(`${what}: ${(err as Error).message}`);
        }
      };
      // No restart from here on: the pending ones are cancelled, one under way is awaited
      // (it sees `stopping` and stops what it started).
      for (const r of Object.values(this.restarts)) {
        if (r.timer) clearTimeout(r.timer);
        r.timer = null;
      }
      await Promise.all(Object.values(this.restarts).map((r) => r.running));
      await attempt("load generator", () => this.loadgen?.stop());
      await attempt("prometheus", () => this.prometheus?.stop());
      await attempt("balancer", () => this.balancer?.stop());
      await attempt("system cgroup", () => this.system?.remove());
      await attempt("replicas", () => this.supervisor.close());
      await attempt("exporter", () => this.exporter?.close());
      live.delete(this);
      const left = leftovers({
        testbedId: this.id,
        pids: [...this.pids],
        ports: [...this.ports],
        dirs: this.prometheusDir ? [this.prometheusDir] : [],
      });
      return [...errors, ...left];
    })();
    return this.stopping;
  }

  /** Synchronous last resort (process exit): SIGKILL every process started. */
  killNow(): void {
    for (const pid of this.pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone.
      }
    }
    for (const p of [...this.supervisor.all().map((x) => x.cgroup), ...(this.system ? [this.system] : [])]) {
      try {
        p.killAll();
      } catch {
        // Gone.
      }
    }
  }

  /** Restarts `proc` with back-off when it exits, unless the testbed is stopping. */
  private superviseTraffic(role: TrafficRole, proc: TrafficProcess): void {
    const startedAt = Date.now();
    void proc.exited.then(({ code, signal }) => {
      const current = role === "balancer" ? this.balancer : this.loadgen;
      if (this.stopping || current !== proc) return;
      const spec = this.supervisor.spec;
      const r = this.restarts[role];
      // A process that ran long enough starts its back-off again, as the kubelet's does.
      if (Date.now() - startedAt >= spec.backoffResetMs) r.backoffMs = spec.backoffBaseMs;
      const why = signal ?? `code ${code}`;
      this.emitTraffic(
        role,
        "exited",
        `${ROLE_NAMES[role]} (pid ${proc.pid}) exited (${why}); restart in ${r.backoffMs} ms`,
      );
      this.scheduleRestart(role);
    });
  }

  private scheduleRestart(role: TrafficRole): void {
    const r = this.restarts[role];
    const spec = this.supervisor.spec;
    const delay = r.backoffMs;
    r.backoffMs = Math.min(r.backoffMs * 2, spec.backoffMaxMs);
    r.timer = setTimeout(() => {
      r.timer = null;
      r.running = this.restartTraffic(role).finally(() => {
        r.running = null;
      });
    }, delay);
  }

  private async restartTraffic(role: TrafficRole): Promise<void> {
    if (this.stopping) return;
    const r = this.restarts[role];
    const old = role === "balancer" ? this.balancer : this.loadgen;
    let proc: TrafficProcess;
    try {
      proc =
        role === "balancer"
          ? // Its own ports again: the load generator's URL and Prometheus's target stay valid.
            await TrafficProcess.start("balancer", {
              namespace: this.supervisor.spec.namespace,
              port: old?.port ?? 0,
              metricsPort: old?.metricsPort ?? 0,
            })
          : await TrafficProcess.start("loadgen", { url: `${this.balancerUrl}/api/work` });
    } catch (err) {
      if (this.stopping) return;
      this.emitTraffic(
        role,
        "restart-failed",
        `${ROLE_NAMES[role]} did not start: ${(err as Error).message}; next try in ${r.backoffMs} ms`,
      );
      this.scheduleRestart(role);
      return;
    }
    this.pids.add(proc.pid);
    if (this.stopping) {
      await proc.stop();
      return;
    }
    this.adopt(proc.pid);
    if (role === "balancer") {
      this.balancer = proc;
      this.ports.add(proc.port).add(proc.metricsPort);
    } else this.loadgen = proc;
    this.superviseTraffic(role, proc);
    try {
      if (role === "balancer") await this.pushEndpoints(this.supervisor.endpoints());
      else await proc.setRate(this.loadRps);
    } catch {
      // Died again at once: its exit is being handled (superviseTraffic) like the first one.
    }
    r.count++;
    this.emitTraffic(role, "restarted", `${ROLE_NAMES[role]} restarted (pid ${proc.pid}, restart ${r.count})`);
  }

  private emitTraffic(role: TrafficRole, kind: TrafficEvent["kind"], detail: string): void {
    const e: TrafficEvent = { role, kind, at: Date.now(), detail };
    for (const l of this.trafficListeners) l(e);
  }

  /** Moves a started process into the system group; where that fails it stays where it is (only its CPU share differs). */
  private adopt(pid: number): void {
    for (const f of this.system?.procsFiles ?? []) {
      try {
        writeFileSync(f, String(pid));
      } catch {
        // Gone already, or the group is not writable: the process runs outside it.
      }
    }
    this.system?.track(pid);
  }

  /** What a leftover check needs to know about this testbed. */
  get footprint(): { testbedId: string; pids: number[]; ports: number[]; dirs: string[] } {
    return {
      testbedId: this.id,
      pids: [...this.pids],
      ports: [...this.ports],
      dirs: this.prometheusDir ? [this.prometheusDir] : [],
    };
  }

  // ---------------------------------------------------------------------------

  private targets(): ScrapeTarget[] {
    const s = this.supervisor;
    const ns = s.spec.namespace;
    const out: ScrapeTarget[] = [];
    if (this.exporter) {
      const addr = `127.0.0.1:${this.exporter.port}`;
      out.push({ address: addr, metricsPath: KSM_PATH, job: "kube-state-metrics" });
      out.push({ address: addr, metricsPath: CADVISOR_PATH, job: "kubelet" });
    }
    if (this.balancer) out.push({ address: `127.0.0.1:${this.balancer.metricsPort}`, job: "ingress" });
    for (const p of s.list()) {
      if (p.port === null) continue;
      out.push({
        address: `127.0.0.1:${p.port}`,
        job: "demo",
        labels: { kubernetes_namespace: ns, kubernetes_pod_name: p.name, container: s.spec.name },
      });
    }
    out.push(...this.extraTargets);
    return out;
  }

  /**
   * Adds endpoints for the testbed's Prometheus to scrape beside its own (the controller and the
   * agent service running against it, as a cluster's Prometheus scrapes their pods), so that
   * one Prometheus holds every series the dashboards read. Resolves once Prometheus has them.
   */
  async addScrapeTargets(targets: readonly ScrapeTarget[]): Promise<void> {
    this.extraTargets = [...this.extraTargets, ...targets];
    this.pushTargets();
    await this.targetsChain;
  }

  /** Replica targets follow the pods; Prometheus picks them up within its discovery batch (~5 s). */
  private pushTargets(): void {
    if (!this.prometheus || this.stopping) return;
    const targets = this.targets();
    const key = JSON.stringify(targets);
    if (key === this.targetsKey) return;
    this.targetsKey = key;
    const prom = this.prometheus;
    this.targetsChain = this.targetsChain.then(async () => {
      if (this.stopping || key !== this.targetsKey) return;
      // Fire and forget for the step path; a slow reload is not an error of the episode.
      await prom.setTargets(targets).catch(() => {});
    });
  }

  private pushEndpoints(eps: readonly Endpoint[]): Promise<void> {
    const lb = this.balancer;
    if (!lb || this.stopping) return Promise.resolve();
    const withDelay = eps.map((e) => ({ ...e, delayMs: this.delays.get(e.pod) ?? 0 }));
    this.endpointsChain = this.endpointsChain.then(() => lb.setEndpoints(withDelay)).catch(() => {});
    return this.endpointsChain;
  }
}
