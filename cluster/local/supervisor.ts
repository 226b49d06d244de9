/**
 * A ReplicaSet and a kubelet for real processes (issue 13, part 2). The supervisor keeps
 * `desired` replicas of the demo service running on loopback ports, each in its own cgroup
 * with a CPU and a memory limit, and behaves the way a cluster does where a policy can see it:
 * - a deleted or killed pod is replaced by a new pod (new name, new uid);
 * - a container that exits by itself (crash, OOM kill) is restarted in place with the
 *   kubelet's exponential back-off (CrashLoopBackOff), its restart count rising;
 * - traffic is gated on readiness: a pod is ready after its /ready probe succeeds, unready
 *   after `readinessFailureThreshold` failures (a frozen process times out);
 * - scale up/down (down removes unready pods first, then the newest, as a ReplicaSet does),
 *   delete (the restart action) and drain (out of rotation, still running and counted).
 * An OOM kill of any process in a pod's memory group kills the whole container, as the
 * kubelet asks of cgroup v2 (`memory.oom.group`); on v1 the supervisor does it.
 *
 * Everything it starts is tracked and stopped by `close()`: processes, cgroups.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { request } from "node:http";
import { createInterface } from "node:readline";
import { type BundleHold, holdBundles } from "./bundle.ts";
import { type CgroupDriver, joinCommand, openCgroups, type PodCgroup } from "./cgroups.ts";
import { type DeploymentSpec, type DeploymentSpecInput, deploymentSpecSchema } from "./spec.ts";

export type ContainerState = "waiting" | "running";
export type WaitingReason = "ContainerCreating" | "CrashLoopBackOff";
export type TerminationReason = "OOMKilled" | "Error" | "Killed";

/** One pod as the supervisor keeps it; read-only outside this file. */
export interface Pod {
  readonly name: string;
  readonly uid: string;
  /** Creation order, never reused: the pod's stable id for rankings. */
  readonly seq: number;
  readonly createdAt: number;
  readonly cgroup: PodCgroup;
  container: ContainerState;
  waitingReason: WaitingReason | null;
  lastTermination: TerminationReason | null;
  /** Whether the container has ever started listening (phase Pending until then). */
  started: boolean;
  port: number | null;
  pid: number | null;
  ready: boolean;
  drained: boolean;
  /** Deletion requested (Terminating): no longer a replica, no traffic. */
  deleting: boolean;
  frozen: boolean;
  restarts: number;
  /** Wall time of the last readiness change, ms since the epoch. */
  readySince: number;
}

interface PodState extends Pod {
  proc: ChildProcess | null;
  probeFailures: number;
  /** Whether this run of the container has been ready yet. */
  readyThisRun: boolean;
  probing: boolean;
  backoffMs: number;
  restartAt: number;
  runningSince: number;
  oomSeen: number;
  /** Extra processes exec'd into the pod (stressors); they die with the container. */
  execs: Set<ChildProcess>;
  exited: Promise<void> | null;
}

export type SupervisorEventKind =
  | "pod-created"
  | "pod-ready"
  | "pod-unready"
  | "pod-crashed"
  | "pod-oom-killed"
  | "pod-restarted"
  | "pod-deleted";

export interface SupervisorEvent {
  /** Wall time, ms since the epoch. */
  readonly at: number;
  readonly kind: SupervisorEventKind;
  readonly pod: string;
  readonly detail: string;
}

/** An endpoint the load balancer may send to: ready, not drained, not terminating. */
export interface Endpoint {
  readonly pod: string;
  readonly port: number;
}

const TICK_MS = 100;

export class Supervisor extends EventEmitter<{ event: [SupervisorEvent]; endpoints: [Endpoint[]] }> {
  readonly spec: DeploymentSpec;
  readonly cgroups: CgroupDriver;
  readonly templateHash: string;
  private desired: number;
  private readonly pods = new Map<string, PodState>();
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private lastEndpoints = "";
  /** The service's bundled entry, held from start to close. */
  private bundle: BundleHold | null = null;

  constructor(
    input: DeploymentSpecInput,
    readonly testbedId: string = `${process.pid}-${randomBytes(3).toString("hex")}`,
  ) {
    super();
    this.spec = deploymentSpecSchema.parse(input);
    this.desired = this.spec.replicas;
    this.cgroups = openCgroups({ testbedId, mode: this.spec.cgroups });
    // Like a Deployment's pod-template-hash: names change when the template does.
    this.templateHash = createHash("sha256")
      .update(JSON.stringify([this.spec.cpuCores, this.spec.memoryMiB, this.spec.workMs, this.spec.allocKiB]))
      .digest("hex")
      .slice(0, 10);
  }

  /** Starts the control loop; resolves when `desired` replicas are ready, or throws after `startTimeoutMs`. */
  async start(): Promise<void> {
    this.bundle ??= await holdBundles();
    if (this.closed) {
      this.bundle.release();
      throw new Error("supervisor closed");
    }
    this.timer = setInterval(() => this.reconcile(), TICK_MS);
    this.reconcile();
    await this.waitReady(this.desired, this.spec.startTimeoutMs);
  }

  /** Resolves once `n` replicas are ready; rejects with which pods were not after `timeoutMs`. */
  async waitReady(n: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.readyCount() < n) {
      if (this.closed) throw new Error("supervisor closed");
      if (Date.now() > deadline) {
        const notReady = this.list().filter((p) => !p.ready);
        throw new Error(
          `replica never became ready within ${timeoutMs} ms: ${notReady.map((p) => `${p.name} (${p.waitingReason ?? p.container}${p.lastTermination ? `, last ${p.lastTermination}` : ""})`).join(", ")}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  get desiredReplicas(): number {
    return this.desired;
  }

  /** Pods that are not terminating, oldest first. */
  list(): Pod[] {
    return [...this.pods.values()].filter((p) => !p.deleting).sort((a, b) => a.seq - b.seq);
  }

  /** Every pod, terminating ones included (for the exported series). */
  all(): Pod[] {
    return [...this.pods.values()].sort((a, b) => a.seq - b.seq);
  }

  pod(name: string): Pod | undefined {
    return this.pods.get(name);
  }

  readyCount(): number {
    return this.list().filter((p) => p.ready).length;
  }

  endpoints(): Endpoint[] {
    return this.list()
      .filter((p) => p.ready && !p.drained && p.port !== null)
      .map((p) => ({ pod: p.name, port: p.port! }));
  }

  scale(replicas: number): void {
    if (!Number.isInteger(replicas) || replicas < 0) throw new Error(`Expected a replica count >= 0, got ${replicas}`);
    this.desired = replicas;
    this.reconcile();
  }

  /** Deletes a pod with the termination grace period (the restart action); the ReplicaSet replaces it. */
  delete(name: string): void {
    const p = this.mustGet(name);
    if (p.deleting) return;
    this.markDeleting(p, "deleted");
    if (p.proc && p.container === "running") {
      p.proc.kill("SIGTERM");
      const grace = setTimeout(() => p.cgroup.killAll(), this.spec.terminationGraceMs);
      grace.unref();
      p.exited?.finally(() => clearTimeout(grace));
    } else this.finishDeletion(p);
    this.reconcile();
  }

  /** Deletes a pod with no grace: SIGKILL to every process (Chaos Mesh pod-kill). */
  kill(name: string): void {
    const p = this.mustGet(name);
    if (p.deleting) return;
    this.markDeleting(p, "killed (SIGKILL)");
    if (p.proc && p.container === "running") p.cgroup.killAll();
    else this.finishDeletion(p);
    this.reconcile();
  }

  drain(name: string): void {
    this.mustGet(name).drained = true;
    this.publishEndpoints();
  }

  undrain(name: string): void {
    this.mustGet(name).drained = false;
    this.publishEndpoints();
  }

  /** Pauses every process of the pod (freezer cgroup, or SIGSTOP without one); readiness then fails. */
  freeze(name: string): void {
    const p = this.mustGet(name);
    p.cgroup.freeze();
    p.frozen = true;
  }

  thaw(name: string): void {
    const p = this.pods.get(name);
    if (!p) return;
    p.cgroup.thaw();
    p.frozen = false;
  }

  /**
   * Runs a command inside the pod's cgroup (as chaos-daemon enters a container's groups).
   * It dies with the container; the returned process may be killed earlier by the caller.
   */
  exec(name: string, argv: readonly string[]): ChildProcess {
    const p = this.mustGet(name);
    if (p.container !== "running") throw new Error(`pod ${name} has no running container`);
    const cmd = joinCommand(p.cgroup, argv);
    const child = spawn(cmd[0]!, cmd.slice(1), { stdio: "ignore" });
    child.on("error", () => {});
    if (child.pid) p.cgroup.track(child.pid);
    p.execs.add(child);
    child.once("exit", () => p.execs.delete(child));
    return child;
  }

  /** Stops everything: every pod's processes and cgroups, then the testbed's parent groups. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    const waits: Promise<void>[] = [];
    for (const p of this.pods.values()) {
      p.deleting = true;
      p.cgroup.killAll();
      for (const e of p.execs) e.kill("SIGKILL");
      p.proc?.kill("SIGKILL");
      if (p.exited) waits.push(p.exited);
    }
    await Promise.all(waits);
    this.bundle?.release();
    const errors: string[] = [];
    for (const p of this.pods.values()) {
      try {
        p.cgroup.remove();
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    this.pods.clear();
    try {
      this.cgroups.close();
    } catch (err) {
      errors.push((err as Error).message);
    }
    if (errors.length > 0) throw new Error(`testbed cleanup left things behind: ${errors.join("; ")}`);
  }

  // -------------------------------------------------------------------------

  private mustGet(name: string): PodState {
    const p = this.pods.get(name);
    if (!p) throw new Error(`no pod named ${name}`);
    return p;
  }

  private emitEvent(kind: SupervisorEventKind, pod: string, detail: string): void {
    this.emit("event", { at: Date.now(), kind, pod, detail });
  }

  private markDeleting(p: PodState, how: string): void {
    p.deleting = true;
    p.ready = false;
    this.emitEvent("pod-deleted", p.name, how);
    this.publishEndpoints();
  }

  private finishDeletion(p: PodState): void {
    for (const e of p.execs) e.kill("SIGKILL");
    try {
      p.cgroup.remove();
    } catch (err) {
      this.emitEvent("pod-crashed", p.name, `cgroup not removed: ${(err as Error).message}`);
    }
    this.pods.delete(p.name);
  }

  private reconcile(): void {
    if (this.closed) return;
    const now = Date.now();
    const live = this.list();
    // ReplicaSet: create or delete to match the desired count.
    if (live.length < this.desired) {
      for (let i = live.length; i < this.desired; i++) this.createPod();
    } else if (live.length > this.desired) {
      // Unready before ready, then newest first (the ReplicaSet's deletion ranking, simplified).
      const victims = [...live]
        .sort((a, b) => Number(a.ready) - Number(b.ready) || b.seq - a.seq)
        .slice(0, live.length - this.desired);
      for (const v of victims) this.delete(v.name);
    }
    // Kubelet: restarts after back-off, OOM group kill, readiness probes.
    for (const p of this.pods.values()) {
      if (p.deleting) continue;
      if (p.container === "waiting" && p.waitingReason === "CrashLoopBackOff" && now >= p.restartAt) {
        this.startContainer(p);
      } else if (p.container === "running") {
        const ooms = safe(() => p.cgroup.oomKills(), 0);
        if (ooms > p.oomSeen) {
          p.oomSeen = ooms;
          p.lastTermination = "OOMKilled";
          p.cgroup.killAll();
        }
        const startedUp = now - p.runningSince >= this.spec.startupDelayMs;
        if (p.port !== null && !p.probing && startedUp) this.probe(p);
      }
    }
    this.publishEndpoints();
  }

  private createPod(): void {
    const suffix = randomBytes(4)
      .toString("base64url")
      .toLowerCase()
      .replace(/[^a-z0-9]/g, "x")
      .slice(0, 5);
    const name = `${this.spec.name}-${this.templateHash}-${suffix}`;
    const limits = { cpuCores: this.spec.cpuCores, memoryBytes: this.spec.memoryMiB * 1024 * 1024 };
    const p: PodState = {
      name,
      uid: randomUUID(),
      seq: this.seq++,
      createdAt: Date.now(),
      cgroup: this.cgroups.create(name, limits),
      container: "waiting",
      waitingReason: "ContainerCreating",
      lastTermination: null,
      started: false,
      port: null,
      pid: null,
      ready: false,
      drained: false,
      deleting: false,
      frozen: false,
      restarts: 0,
      readySince: Date.now(),
      proc: null,
      probeFailures: 0,
      readyThisRun: false,
      probing: false,
      backoffMs: this.spec.backoffBaseMs,
      restartAt: 0,
      runningSince: 0,
      oomSeen: 0,
      execs: new Set(),
      exited: null,
    };
    p.oomSeen = safe(() => p.cgroup.oomKills(), 0);
    this.pods.set(name, p);
    this.emitEvent("pod-created", name, `uid ${p.uid}`);
    this.startContainer(p);
  }

  private startContainer(p: PodState): void {
    if (this.bundle === null) throw new Error("supervisor not started");
    const argv = joinCommand(p.cgroup, [process.execPath, this.bundle.path("service")]);
    const proc = spawn(argv[0]!, argv.slice(1), {
      env: {
        ...process.env,
        PORT: "0",
        HOST: "127.0.0.1",
        WORK_MS: String(this.spec.workMs),
        ALLOC_KIB: String(this.spec.allocKiB),
        EXIT_WITH_PARENT: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    p.proc = proc;
    p.pid = proc.pid ?? null;
    if (proc.pid) p.cgroup.track(proc.pid);
    p.container = "running";
    p.waitingReason = null;
    p.port = null;
    p.ready = false;
    p.probeFailures = 0;
    p.readyThisRun = false;
    p.runningSince = Date.now();
    let stderr = "";
    proc.stderr!.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    const lines = createInterface({ input: proc.stdout! });
    lines.once("line", (line) => {
      try {
        const msg = JSON.parse(line) as { event?: string; port?: number };
        if (msg.event === "listening" && typeof msg.port === "number") {
          p.port = msg.port;
          p.started = true;
        }
      } catch {
        // Not the announcement; the probe never starts and the start timeout names the pod.
      }
    });
    proc.on("error", () => {});
    p.exited = new Promise((resolve) => {
      proc.once("exit", (code, signal) => {
        lines.close();
        this.onExit(p, proc, code, signal, stderr);
        resolve();
      });
    });
  }

  private onExit(
    p: PodState,
    proc: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
    stderr: string,
  ): void {
    if (p.proc !== proc) return;
    p.proc = null;
    p.pid = null;
    p.port = null;
    p.ready = false;
    p.container = "waiting";
    // Stressors and anything else in the container go with it.
    for (const e of p.execs) e.kill("SIGKILL");
    safe(() => p.cgroup.killAll(), undefined);
    if (p.deleting || this.closed) {
      if (!this.closed) this.finishDeletion(p);
      this.publishEndpoints();
      return;
    }
    const ooms = safe(() => p.cgroup.oomKills(), 0);
    if (ooms > p.oomSeen || p.lastTermination === "OOMKilled") {
      p.oomSeen = ooms;
      p.lastTermination = "OOMKilled";
    } else p.lastTermination = signal === "SIGKILL" ? "Killed" : "Error";
    const now = Date.now();
    if (now - p.runningSince >= this.spec.backoffResetMs) p.backoffMs = this.spec.backoffBaseMs;
    p.restarts++;
    p.waitingReason = "CrashLoopBackOff";
    p.restartAt = now + p.backoffMs;
    const detail = `exit ${code ?? signal}, restart ${p.restarts} in ${p.backoffMs} ms${stderr ? `: ${lastLine(stderr)}` : ""}`;
    p.backoffMs = Math.min(p.backoffMs * 2, this.spec.backoffMaxMs);
    this.emitEvent(p.lastTermination === "OOMKilled" ? "pod-oom-killed" : "pod-crashed", p.name, detail);
    this.publishEndpoints();
  }

  private probe(p: PodState): void {
    p.probing = true;
    const port = p.port!;
    const proc = p.proc;
    const req = request(
      { host: "127.0.0.1", port, path: "/ready", timeout: this.spec.readinessTimeoutMs, agent: false },
      (res) => {
        res.resume();
        res.once("end", () => done(res.statusCode === 200));
      },
    );
    const done = (ok: boolean) => {
      if (!p.probing) return;
      req.destroy();
      // A result from a container that has since died says nothing about the new one.
      const current = p.proc === proc && p.container === "running" && !p.deleting;
      if (current) this.probeResult(p, ok);
      setTimeout(() => {
        p.probing = false;
      }, this.spec.readinessPeriodMs).unref();
    };
    req.once("timeout", () => done(false));
    req.once("error", () => done(false));
    req.end();
  }

  private probeResult(p: PodState, ok: boolean): void {
    if (ok) {
      p.probeFailures = 0;
      if (!p.ready) {
        p.ready = true;
        p.readySince = Date.now();
        const restarted = p.restarts > 0 && !p.readyThisRun;
        p.readyThisRun = true;
        this.emitEvent(restarted ? "pod-restarted" : "pod-ready", p.name, `ready (restarts ${p.restarts})`);
        this.publishEndpoints();
      }
      return;
    }
    p.probeFailures++;
    if (p.ready && p.probeFailures >= this.spec.readinessFailureThreshold) {
      p.ready = false;
      p.readySince = Date.now();
      this.emitEvent("pod-unready", p.name, `${p.probeFailures} readiness probes failed`);
      this.publishEndpoints();
    }
  }

  private publishEndpoints(): void {
    const eps = this.endpoints();
    const key = JSON.stringify(eps);
    if (key === this.lastEndpoints) return;
    this.lastEndpoints = key;
    this.emit("endpoints", eps);
  }
}

function safe<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}

function lastLine(s: string): string {
  const lines = s.trim().split("\n");
  return lines[lines.length - 1]!.slice(0, 200);
}
