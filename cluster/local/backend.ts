/**
 * `backend: local` (issue 13, part 7): the controller loop's `Backend` on the real testbed.
 * - observe: one PromQL observation from the collector (cluster/prometheus/) at the step's
 *   wall time, exactly as on a cluster; the load generator's client-side window of the same
 *   step is kept beside it as ground truth (a `client-window` event per step).
 * - execute: restart = delete the pod (its ReplicaSet replaces it), drain = out of the
 *   balancer's rotation, scale up/down = the ReplicaSet's desired count. Restart and drain
 *   hit the pod the contract's shared ranking picks from the observed rows.
 * - inject/clear: faults.ts, by Chaos Mesh's mechanisms.
 * - clock: wall time on the observation grid (clock.ts); the scenario's `stepSeconds` is
 *   real seconds (1-2 s steps; kubelet timings scaled by spec.ts's TIME_SCALE).
 * - load: the scenario's workload series, one rate per step, times any live load spike.
 * - the traffic processes' deaths and restarts (testbed.ts restarts them with back-off) are
 *   `traffic` events. While the load generator is down, and until the rate window no longer
 *   covers its outage, the request-derived values (latency, error rate, request rate) are
 *   flagged missing: the service then sees less load than the scenario's (no load reads as
 *   0 requests, not as missing, to the collector), so the guard refuses to act on them.
 *   Such a step has no client window (a `client-window` event says so).
 * `open` starts the testbed, runs the load until Prometheus has a full rate window, and
 * only then starts the clock; `close` clears faults and stops everything, and throws
 * naming whatever was left behind.
 */
import {
  Action,
  type ActionOutcome,
  type Backend,
  type BackendEvent,
  type FaultInjection,
  Missing,
  pickTargetPod,
  type Slo,
  type Snapshot,
} from "../../harness/core/contract.ts";
import { type CollectedSnapshot, type Collector, createCollector } from "../prometheus/collector.ts";
import { type StopConditionLimits, StopConditions } from "../stop-conditions.ts";
import { WallClock } from "./clock.ts";
import { FaultInjector, type FaultTargeting, targetByRank } from "./faults.ts";
import { type Ended, LiveSpans } from "./live-spans.ts";
import type { DeploymentSpecInput } from "./spec.ts";
import type { SupervisorEvent } from "./supervisor.ts";
import { type Mechanisms, Testbed } from "./testbed.ts";

export interface LocalBackendOptions {
  readonly deployment?: DeploymentSpecInput;
  readonly stepSeconds: number;
  /** Offered load per step, requests per second (the workload series); the last repeats. */
  readonly rates: ArrayLike<number>;
  /** @default 1 */
  readonly scrapeIntervalS?: number;
  readonly signal?: AbortSignal;
  readonly targeting?: FaultTargeting;
  /** Stop conditions (cluster/stop-conditions.ts): when one holds, all chaos is aborted. */
  readonly stop?: { readonly limits: StopConditionLimits; readonly slo: Slo };
}

/** Events beyond the contract's kinds that this backend adds to the trace (free-form in the store). */
type LocalEventKind = BackendEvent["kind"] | "client-window" | "testbed" | "stop-condition" | "traffic";

export class LocalBackend implements Backend {
  readonly clock: WallClock;
  private readonly faults: FaultInjector;
  private readonly collector: Collector;
  private events: BackendEvent[] = [];
  private last: CollectedSnapshot | null = null;
  private step = 0;
  private loadFactor = 1;
  private rateSent = Number.NaN;
  private closed: Promise<void> | null = null;
  /** How long `close` took, ms (NaN before). */
  closeMs = Number.NaN;
  /** Pod name -> stable id (creation order), for event and action rows. */
  private readonly ids = new Map<string, number>();
  /** Pod name -> uid, kept for events about a pod the supervisor has forgotten. */
  private readonly uids = new Map<string, string>();
  /** Which faults are live, and what ends each (contract.ts `FaultEndCause`). */
  private readonly spans = new LiveSpans();
  private readonly stop: StopConditions | null;
  /** Clock time until which the request series still cover a load generator outage (+Inf while it is down). */
  private trafficGapUntil = Number.NEGATIVE_INFINITY;

  private constructor(
    readonly testbed: Testbed,
    private readonly o: LocalBackendOptions,
  ) {
    this.faults = new FaultInjector(
      testbed,
      (f) => {
        this.loadFactor = f;
        void this.applyRate();
      },
      // Ranks spread over the replicas the deployment starts with, as on the simulator.
      o.targeting ?? targetByRank(testbed.supervisor.desiredReplicas),
    );
    const s = testbed.supervisor;
    this.collector = createCollector({
      url: testbed.prometheus!.url,
      namespace: s.spec.namespace,
      deployment: s.spec.name,
      stepSeconds: o.stepSeconds,
      scrapeIntervalS: o.scrapeIntervalS ?? 1,
    });
    this.clock = new WallClock(o.signal);
    this.stop = o.stop ? new StopConditions(o.stop.limits, o.stop.slo) : null;
    s.on("event", (e) => this.onSupervisorEvent(e));
    testbed.onTraffic((e) => {
      this.note("traffic", -1, e.detail);
      if (e.role !== "loadgen") return;
      if (e.kind === "exited") this.trafficGapUntil = Number.POSITIVE_INFINITY;
      // One more scrape after a full window: the first observation whose rates are all the new process's.
      else if (e.kind === "restarted") {
        this.trafficGapUntil = this.clock.now() + this.collector.windowS + (o.scrapeIntervalS ?? 1);
      }
    });
  }

  static async open(o: LocalBackendOptions): Promise<LocalBackend> {
    const t0 = performance.now();
    const testbed = await Testbed.start({ deployment: o.deployment ?? {}, scrapeIntervalS: o.scrapeIntervalS ?? 1 });
    try {
      const started = performance.now();
      const b = new LocalBackend(testbed, o);
      await b.applyRate();
      // Every target scraped once (discovery takes up to ~5 s), then a full rate window of
      // data, so that the first observation has every value.
      const prom = testbed.prometheus!;
      await prom.waitForScrape({ timeoutMs: 60_000 });
      const scraped = performance.now();
      await new Promise((r) => setTimeout(r, b.collector.windowS * 1000));
      await prom.waitForScrape({ timeoutMs: 60_000 });
      const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
      const parts = Object.entries(testbed.startedAfterMs)
        .map(([k, v]) => `${k} ${s(v)}`)
        .join(", ");
      b.clock.restart();
      b.events = [];
      b.note("testbed", -1, `mechanisms ${JSON.stringify(testbed.mechanisms)}`);
      // Where an episode's set-up time goes (the smoke suite's per-phase figures come from these rows).
      b.note(
        "testbed",
        -1,
        `open ${s(performance.now() - t0)}: start ${s(started - t0)} (${parts}), first scrape ${s(scraped - started)}, rate window ${s(performance.now() - scraped)}`,
      );
      return b;
    } catch (err) {
      const left = await testbed.stop();
      if (left.length > 0) (err as Error).message += `; cleanup left: ${left.join(", ")}`;
      throw err;
    }
  }

  get mechanisms(): Mechanisms {
    return this.testbed.mechanisms;
  }

  async observe(): Promise<Snapshot> {
    const now = this.clock.now();
    this.step = Math.round(now / this.o.stepSeconds);
    await this.applyRate();
    // The client window is ground truth beside the observation, not part of it: a load
    // generator that is down (or dies during the call) leaves the step without one.
    const lg = this.testbed.trafficUp("loadgen") ? this.testbed.loadgen : null;
    const [snap, client] = await Promise.all([
      this.collector.observe(Date.now() / 1000),
      lg ? lg.takeWindow().catch((err: unknown) => (lg.hasExited ? null : Promise.reject(err))) : null,
    ]);
    snap.time = now;
    this.identify(snap);
    this.last = snap;
    const why = this.stop?.check(snap) ?? null;
    if (why !== null) await this.abortChaos(why);
    if (now < this.trafficGapUntil || client === null) {
      snap.missing |= TRAFFIC_VALUES;
      this.note(
        "traffic",
        -1,
        client === null
          ? "latency, error rate, request rate flagged missing: the load generator is down"
          : `latency, error rate, request rate flagged missing: the rate window still covers the load generator's outage (until ${this.trafficGapUntil.toFixed(1)} s)`,
      );
    }
    if (client === null) {
      this.note("client-window", -1, "none: the load generator is down");
      return snap;
    }
    const rps = client.seconds > 0 ? client.completed / client.seconds : 0;
    const err = client.completed > 0 ? client.errors / client.completed : 0;
    this.note(
      "client-window",
      -1,
      `rps ${rps.toFixed(1)} errors ${err.toFixed(4)} p50 ${fmtMs(client.p50Ms)} p95 ${fmtMs(client.p95Ms)} p99 ${fmtMs(client.p99Ms)} in-flight ${client.inFlight}`,
    );
    return snap;
  }

  async execute(action: Action): Promise<ActionOutcome> {
    const s = this.testbed.supervisor;
    switch (action) {
      case Action.Noop:
        return { applied: false, podId: -1, message: "noop" };
      case Action.ScaleUp:
        s.scale(s.desiredReplicas + 1);
        return { applied: true, podId: -1, message: `scaled to ${s.desiredReplicas} replicas` };
      case Action.ScaleDown:
        if (s.desiredReplicas <= 1) return { applied: false, podId: -1, message: "already at 1 replica" };
        s.scale(s.desiredReplicas - 1);
        return { applied: true, podId: -1, message: `scaled to ${s.desiredReplicas} replicas` };
      case Action.RestartPod:
      case Action.DrainPod: {
        const snap = this.last;
        const row = snap?.podTable ? pickTargetPod(snap.podTable, action) : -1;
        const name = row >= 0 ? snap!.podNames[row] : undefined;
        const pod = name ? s.pod(name) : undefined;
        if (!pod || pod.deleting) return { applied: false, podId: -1, message: "no eligible pod" };
        const id = this.idOf(pod.name);
        const who = { podId: id, podName: pod.name, podUid: pod.uid };
        if (action === Action.RestartPod) {
          this.spans.restarting(pod.name);
          // The collector must not read the deletion as a pod failure (sinceFailureS).
          this.collector.noteDeleted(pod.name);
          s.delete(pod.name);
          return {
            applied: true,
            ...who,
            message: `deleted ${pod.name} (uid ${pod.uid}); the ReplicaSet replaces it`,
          };
        }
        s.drain(pod.name);
        return { applied: true, ...who, message: `drained ${pod.name}: out of the balancer's rotation` };
      }
    }
  }

  async inject(fault: FaultInjection): Promise<void> {
    if (this.stop?.reason) {
      this.events.push({
        time: this.clock.now(),
        kind: "fault-skipped",
        podId: -1,
        faultId: fault.id,
        detail: `chaos stopped: ${this.stop.reason}`,
      });
      return;
    }
    const r = await this.faults.inject(fault);
    const type = fault.spec.type;
    if (r.pod === null && type !== "load-spike") {
      this.events.push({
        time: this.clock.now(),
        kind: "fault-skipped",
        podId: -1,
        faultId: fault.id,
        detail: r.detail,
      });
      return;
    }
    this.spans.injected(fault.id, type, r.pod?.name ?? null);
    this.events.push({
      time: this.clock.now(),
      kind: "fault-injected",
      ...this.who(r.pod?.name ?? null),
      faultId: fault.id,
      targetRank: r.rank,
      detail: r.detail,
    });
  }

  async clear(fault: FaultInjection): Promise<void> {
    const detail = await this.faults.clear(fault);
    const now = this.clock.now();
    this.events.push({ time: now, kind: "fault-cleared", podId: -1, faultId: fault.id, detail });
    this.ended(now, this.spans.cleared(fault.id));
  }

  /** A stop condition held: clear every live fault now (each recorded as cleared), no more chaos. */
  private async abortChaos(why: string): Promise<void> {
    const live = this.faults.liveFaults();
    this.note("stop-condition", -1, `${why}: aborting ${live.length} live fault(s)`);
    for (const f of live) await this.clear(f);
  }

  /** `fault-ended` events for the spans that just ended. */
  private ended(time: number, ended: readonly Ended[]): void {
    for (const e of ended) {
      this.events.push({
        time,
        kind: "fault-ended",
        ...this.who(e.pod),
        faultId: e.faultId,
        detail: `${e.type} effect over: ${e.cause}`,
      });
    }
  }

  drainEvents(): BackendEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }

  /** Clears every fault and stops the testbed; throws naming what was left behind. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      const t0 = performance.now();
      const failed = await this.faults.clearAll();
      const left = await this.testbed.stop();
      this.closeMs = performance.now() - t0;
      const problems = [...failed.map((f) => `fault not cleared: ${f}`), ...left];
      if (problems.length > 0) throw new Error(`local backend cleanup: ${problems.join("; ")}`);
    })();
    return this.closed;
  }

  // ---------------------------------------------------------------------------

  /** The workload series' rate this step, before any load spike: what a replay offers again. */
  offeredLoadRps(): number {
    const r = this.o.rates;
    if (r.length === 0) return 0;
    return r[Math.min(r.length - 1, Math.max(0, this.step))]!;
  }

  private rateNow(): number {
    return this.offeredLoadRps() * this.loadFactor;
  }

  private async applyRate(): Promise<void> {
    const rate = this.rateNow();
    // One IPC round trip less per step when the rate has not changed (a constant workload).
    if (rate === this.rateSent) return;
    this.rateSent = rate;
    await this.testbed.setLoadRate(rate);
  }

  /**
   * Gives the collector's rows (sorted by name, numbered by that order) the supervisor's
   * identity of each pod: its creation counter as `id`, so ids stay put when pods come and
   * go, and its uid. A pod the supervisor no longer has keeps the id it was given before.
   */
  private identify(snap: CollectedSnapshot): void {
    const t = snap.podTable;
    if (t === null) return;
    for (let i = 0; i < t.count; i++) {
      const name = snap.podNames[i]!;
      const id = this.idOf(name);
      // A pod the supervisor never had (a stale series): an id no creation counter reaches.
      t.id[i] = id >= 0 ? id : 1_000_000 + i;
      t.uid[i] = this.testbed.supervisor.pod(name)?.uid ?? this.uids.get(name) ?? "";
      if (t.uid[i] !== "") this.uids.set(name, t.uid[i]!);
    }
  }

  /** A pod's id, name and uid for an event row (-1 and "" without a pod). */
  private who(name: string | null): { podId: number; podName: string; podUid: string } {
    if (name === null) return { podId: -1, podName: "", podUid: "" };
    const uid = this.testbed.supervisor.pod(name)?.uid ?? this.uids.get(name) ?? "";
    if (uid !== "") this.uids.set(name, uid);
    return { podId: this.idOf(name), podName: name, podUid: uid };
  }

  private idOf(name: string): number {
    const p = this.testbed.supervisor.pod(name);
    const id = p?.seq ?? this.ids.get(name) ?? -1;
    if (id >= 0) this.ids.set(name, id);
    return id;
  }

  private note(kind: LocalEventKind, podId: number, detail: string): void {
    // The store keeps event kinds as free text; these two are the testbed's own records.
    this.events.push({ time: this.clock.now(), kind: kind as BackendEvent["kind"], podId, faultId: -1, detail });
  }

  private onSupervisorEvent(e: SupervisorEvent): void {
    const kind: BackendEvent["kind"] | null =
      e.kind === "pod-crashed"
        ? "pod-crashed"
        : e.kind === "pod-oom-killed"
          ? "pod-oom-killed"
          : e.kind === "pod-restarted"
            ? "pod-restarted"
            : e.kind === "pod-ready"
              ? "pod-ready"
              : e.kind === "pod-created"
                ? "pod-replaced"
                : null;
    const time = Math.max(0, e.at / 1000 - this.clock.originUnixS);
    if (kind !== null) {
      this.events.push({ time, kind, ...this.who(e.pod), faultId: -1, detail: `${e.pod}: ${e.detail}` });
    }
    if (e.kind === "pod-created") this.spans.podCreated(e.pod);
    else if (e.kind === "pod-oom-killed") this.spans.podOomKilled(e.pod);
    else if (e.kind === "pod-ready") this.ended(time, this.spans.podReady(e.pod));
    else if (e.kind === "pod-deleted") this.ended(time, this.spans.podDeleted(e.pod));
  }
}

/** What a load generator outage leaves without meaning: the values computed from the service's requests. */
const TRAFFIC_VALUES = Missing.Latency | Missing.ErrorRate | Missing.RequestRate;

function fmtMs(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(1)}ms` : "-";
}
