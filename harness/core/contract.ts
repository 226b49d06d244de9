/**
 * The contract every folder speaks (DESIGN.md, "The contract"): what one observation
 * sees, how it is encoded for a policy, what a policy may do, what a fault is, and
 * what a backend and its clock offer. Everything else depends on this file; nothing
 * here depends on anything else in the project.
 *
 * Units: time in seconds, latency in milliseconds, utilisation and error rate as
 * fractions in 0..1, request rate in requests per second.
 */
import { z } from "zod";

// ---------------------------------------------------------------------------
// Actions

/** Action ids, as the policy network's output index. Order is part of `obs-v1` models. */
export const Action = {
  Noop: 0,
  RestartPod: 1,
  ScaleUp: 2,
  ScaleDown: 3,
  DrainPod: 4,
} as const;
export type Action = (typeof Action)[keyof typeof Action];

/** Names by action id; model cards and reports use these. */
export const ACTION_NAMES = ["noop", "restart-pod", "scale-up", "scale-down", "drain-pod"] as const;
export const ACTION_COUNT = ACTION_NAMES.length;

export function isAction(n: number): n is Action {
  return Number.isInteger(n) && n >= 0 && n < ACTION_COUNT;
}

// ---------------------------------------------------------------------------
// Pods

/**
 * Pod lifecycle as both backends report it.
 * - Healthy: ready and serving within normal limits.
 * - Degraded: ready but slow or erroring (overload, stress, network delay, memory pressure).
 * - Crashed: container not running and waiting for the kubelet's back-off to expire
 *   (CrashLoopBackOff); not ready.
 * - Pending: a new pod being scheduled and started (scale-up, ReplicaSet replacement); not ready.
 * - Restarting: a container starting again after a crash or a restart action; not ready.
 * - Terminating: deleted and shutting down; no longer counts as a replica.
 */
export const PodPhase = {
  Healthy: 0,
  Degraded: 1,
  Crashed: 2,
  Pending: 3,
  Restarting: 4,
  Terminating: 5,
} as const;
export type PodPhase = (typeof PodPhase)[keyof typeof PodPhase];

/**
 * Per-pod rows as a struct of arrays (length >= `count`; rows past `count` are unused),
 * so the simulator can expose its own buffers without copying and the cluster collector
 * can fill the same shape from the Kubernetes API and Prometheus.
 */
export interface PodTable {
  /** Number of valid rows. */
  count: number;
  /**
   * Stable identity, in creation order: ranking ties and fault targets use it. Simulator: its
   * creation counter; Kubernetes: a number given to each pod uid on first sight; testbed: the
   * supervisor's creation counter. Never reused within an episode.
   */
  readonly id: Int32Array;
  /**
   * The pod's name and uid by row ("" where the backend has none): what the audit trail and
   * the trace store's event rows name a pod by. Plain string arrays the backend fills (a
   * string is assigned, never built, per observation): the simulator derives both from its
   * seed and creation counter (sim/pod-names.ts), the cluster backends copy the API's.
   */
  readonly name: string[];
  readonly uid: string[];
  readonly phase: Uint8Array;
  /** 1 when the pod is drained (receives no traffic), else 0. */
  readonly drained: Uint8Array;
  /** CPU utilisation of the pod's request, 0..1. */
  readonly cpu: Float64Array;
  /** Memory utilisation of the pod's limit, 0..1. */
  readonly memory: Float64Array;
  readonly latencyMs: Float64Array;
  readonly errorRate: Float64Array;
  /** Container restarts so far (kubelet and action restarts). */
  readonly restarts: Int32Array;
}

export function createPodTable(capacity: number): PodTable {
  return {
    count: 0,
    id: new Int32Array(capacity),
    name: new Array<string>(capacity).fill(""),
    uid: new Array<string>(capacity).fill(""),
    phase: new Uint8Array(capacity),
    drained: new Uint8Array(capacity),
    cpu: new Float64Array(capacity),
    memory: new Float64Array(capacity),
    latencyMs: new Float64Array(capacity),
    errorRate: new Float64Array(capacity),
    restarts: new Int32Array(capacity),
  };
}

/**
 * The Snapshot's pod counts from its pod rows, written into `into`: a terminating pod is no
 * longer one of the deployment's pods; a drained one still is (and keeps its phase count).
 */
export function countPodPhases(t: Readonly<PodTable>, into: Snapshot): void {
  let healthy = 0;
  let degraded = 0;
  let crashed = 0;
  let pending = 0;
  let terminating = 0;
  let drained = 0;
  for (let i = 0; i < t.count; i++) {
    const ph = t.phase[i]!;
    if (ph === PodPhase.Terminating) {
      terminating++;
      continue;
    }
    if (ph === PodPhase.Healthy) healthy++;
    else if (ph === PodPhase.Degraded) degraded++;
    else if (ph === PodPhase.Crashed) crashed++;
    else pending++;
    if (t.drained[i] === 1) drained++;
  }
  into.pods = t.count - terminating;
  into.healthy = healthy;
  into.degraded = degraded;
  into.crashed = crashed;
  into.pending = pending;
  into.terminating = terminating;
  into.drained = drained;
}

/** Rank of a pod as a restart/drain target: lower is picked first. */
function targetClass(phase: number): number {
  if (phase === PodPhase.Crashed) return 0;
  if (phase === PodPhase.Degraded) return 1;
  return 2;
}

/**
 * The one shared ranking that picks which pod a restart or drain hits, identical on
 * both backends: crashed > degraded > highest error rate > highest latency > lowest id.
 * Pods that are pending, restarting or terminating are not eligible (acting on them
 * would do nothing), nor, for a drain, pods that are already drained.
 * Returns the row index, or -1 when no pod is eligible.
 */
export function pickTargetPod(pods: PodTable, action: Action): number {
  let best = -1;
  for (let i = 0; i < pods.count; i++) {
    const phase = pods.phase[i];
    if (phase === PodPhase.Pending || phase === PodPhase.Restarting || phase === PodPhase.Terminating) {
      continue;
    }
    if (action === Action.DrainPod && pods.drained[i] === 1) continue;
    if (best < 0 || ranksBefore(pods, i, best)) best = i;
  }
  return best;
}

function ranksBefore(pods: PodTable, a: number, b: number): boolean {
  const ca = targetClass(pods.phase[a]);
  const cb = targetClass(pods.phase[b]);
  if (ca !== cb) return ca < cb;
  const ea = pods.errorRate[a];
  const eb = pods.errorRate[b];
  if (ea !== eb) return ea > eb;
  const la = pods.latencyMs[a];
  const lb = pods.latencyMs[b];
  if (la !== lb) return la > lb;
  return pods.id[a] < pods.id[b];
}

// ---------------------------------------------------------------------------
// Snapshot

/** Bits of {@link Snapshot.missing}: which values were absent and replaced by their default. */
export const Missing = {
  Cpu: 1,
  Memory: 2,
  Latency: 4,
  ErrorRate: 8,
  RequestRate: 16,
  SinceFailure: 32,
  /** No per-pod rows (and so no health counts) could be read. */
  Pods: 64,
} as const;
export type MissingFlag = keyof typeof Missing;

/**
 * What one observation sees, in physical units. Aggregates are over ready pods that
 * receive traffic (not drained); when there are none, cpu/memory are 0 and latency and
 * error rate describe the failed service (error rate 1).
 *
 * Health counts cover every pod that is not terminating:
 * `healthy + degraded + crashed + pending === pods`, where `pending` includes restarting pods.
 */
export interface Snapshot {
  /** Seconds since the episode (or controller) started. */
  time: number;
  /** The replica count asked of the ReplicaSet (`spec.replicas`). */
  desiredReplicas: number;
  /** Pods that are ready, drained or not. */
  readyReplicas: number;
  /** Pods that are not terminating. */
  pods: number;
  healthy: number;
  degraded: number;
  crashed: number;
  /** Pending, starting and restarting pods. */
  pending: number;
  /** Pods shutting down; they no longer count as replicas. */
  terminating: number;
  /** Pods drained (no traffic) among the non-terminating ones. */
  drained: number;
  /** Mean CPU utilisation of serving pods, 0..1. */
  cpu: number;
  /** Mean memory utilisation of serving pods, 0..1. */
  memory: number;
  /** Service latency in ms (p95 where the backend has it). */
  latencyMs: number;
  /** Share of requests that fail, 0..1. */
  errorRate: number;
  /** Offered request rate, requests per second. */
  requestRate: number;
  /** Seconds since a pod last failed (crash, kill, OOM), or since the start if none has. */
  sinceFailureS: number;
  /** Bitmask of {@link Missing}: values that were absent and replaced by their documented default. */
  missing: number;
  /** Per-pod rows where the backend has them, else null. */
  podTable: PodTable | null;
}

export function createSnapshot(): Snapshot {
  return {
    time: 0,
    desiredReplicas: 0,
    readyReplicas: 0,
    pods: 0,
    healthy: 0,
    degraded: 0,
    crashed: 0,
    pending: 0,
    terminating: 0,
    drained: 0,
    cpu: 0,
    memory: 0,
    latencyMs: 0,
    errorRate: 0,
    requestRate: 0,
    sinceFailureS: 0,
    missing: 0,
    podTable: null,
  };
}

/**
 * Copies every field of `from` but `podTable` into `to` (a previous observation kept by
 * value: the backend's snapshot is a reused buffer whose pod rows change with the next step).
 */
export function copySnapshotScalars(from: Readonly<Snapshot>, to: Snapshot): void {
  to.time = from.time;
  to.desiredReplicas = from.desiredReplicas;
  to.readyReplicas = from.readyReplicas;
  to.pods = from.pods;
  to.healthy = from.healthy;
  to.degraded = from.degraded;
  to.crashed = from.crashed;
  to.pending = from.pending;
  to.terminating = from.terminating;
  to.drained = from.drained;
  to.cpu = from.cpu;
  to.memory = from.memory;
  to.latencyMs = from.latencyMs;
  to.errorRate = from.errorRate;
  to.requestRate = from.requestRate;
  to.sinceFailureS = from.sinceFailureS;
  to.missing = from.missing;
}

/**
 * Defaults for absent metrics. They describe "nothing known to be wrong" so that a gap
 * in scraping never looks like an incident to a policy; the `missing` flag is what lets
 * the guard refuse to act on such a snapshot (`MetricsUnavailable`).
 */
export const METRIC_DEFAULTS = {
  cpu: 0,
  memory: 0,
  latencyMs: 0,
  errorRate: 0,
  requestRate: 0,
  /** Absent "time since last failure" reads as "no failure seen": the codec clips it to 1. */
  sinceFailureS: Number.POSITIVE_INFINITY,
} as const;

/** Names of the flags set in a `missing` bitmask, for logs and audit records. */
export function missingNames(mask: number): MissingFlag[] {
  return (Object.keys(Missing) as MissingFlag[]).filter((k) => (mask & Missing[k]) !== 0);
}

/**
 * Replaces every non-finite metric of a snapshot (NaN, undefined from a failed query)
 * by its default in {@link METRIC_DEFAULTS}, sets the matching `missing` bits, and returns
 * the snapshot. Backends whose sources can fail (the cluster collector) call this once
 * per observation; the codec applies the same defaults on its own, so a NaN can never
 * reach a policy.
 */
export function fillMissing(s: Snapshot): Snapshot {
  if (!Number.isFinite(s.cpu)) {
    s.cpu = METRIC_DEFAULTS.cpu;
    s.missing |= Missing.Cpu;
  }
  if (!Number.isFinite(s.memory)) {
    s.memory = METRIC_DEFAULTS.memory;
    s.missing |= Missing.Memory;
  }
  if (!Number.isFinite(s.latencyMs)) {
    s.latencyMs = METRIC_DEFAULTS.latencyMs;
    s.missing |= Missing.Latency;
  }
  if (!Number.isFinite(s.errorRate)) {
    s.errorRate = METRIC_DEFAULTS.errorRate;
    s.missing |= Missing.ErrorRate;
  }
  if (!Number.isFinite(s.requestRate)) {
    s.requestRate = METRIC_DEFAULTS.requestRate;
    s.missing |= Missing.RequestRate;
  }
  if (Number.isNaN(s.sinceFailureS) || s.sinceFailureS === undefined) {
    s.sinceFailureS = METRIC_DEFAULTS.sinceFailureS;
    s.missing |= Missing.SinceFailure;
  }
  for (const k of COUNT_FIELDS) {
    if (!Number.isFinite(s[k])) {
      s[k] = 0;
      s.missing |= Missing.Pods;
    }
  }
  return s;
}

const COUNT_FIELDS = [
  "desiredReplicas",
  "readyReplicas",
  "pods",
  "healthy",
  "degraded",
  "crashed",
  "pending",
  "terminating",
  "drained",
] as const satisfies readonly (keyof Snapshot)[];

// ---------------------------------------------------------------------------
// State codec obs-v1

/** Everything a codec needs beyond the snapshot. */
export interface CodecContext {
  /** The deployment's replica ceiling: counts are divided by it. */
  readonly maxReplicas: number;
  /** Episode (or horizon) length in seconds: "time since last failure" is divided by it. */
  readonly episodeSeconds: number;
  /**
   * Requests per second one pod serves at full CPU, where the deployment says (the
   * simulator's parameter, the testbed's spec); codecs that relate load to capacity (obs-v2)
   * need it and refuse a context without it. obs-v1 ignores it.
   */
  readonly podCapacityRps?: number;
}

export const OBS_V1 = {
  name: "obs-v1",
  dim: 9,
  features: [
    "healthy / maxReplicas",
    "degraded / maxReplicas",
    "crashed / maxReplicas",
    "cpu (0..1)",
    "memory (0..1)",
    "latency_ms / 1000",
    "error rate (0..1)",
    "min(1, seconds since last failure / episode seconds)",
    "desired replicas / maxReplicas",
  ],
} as const;
export type CodecName = typeof OBS_V1.name;

function finiteOr(x: number, fallback: number): number {
  return Number.isFinite(x) ? x : fallback;
}

/**
 * Encodes a snapshot as the 9-float `obs-v1` vector, in the order of `OBS_V1.features`,
 * into `out` (allocated when omitted) and returns it. Non-finite inputs encode to the
 * defaults of {@link METRIC_DEFAULTS} (counts to 0), so the output never holds NaN.
 */
export function encodeObsV1(
  s: Snapshot,
  ctx: CodecContext,
  out: Float32Array = new Float32Array(OBS_V1.dim),
): Float32Array {
  const maxR = ctx.maxReplicas;
  out[0] = finiteOr(s.healthy, 0) / maxR;
  out[1] = finiteOr(s.degraded, 0) / maxR;
  out[2] = finiteOr(s.crashed, 0) / maxR;
  out[3] = finiteOr(s.cpu, METRIC_DEFAULTS.cpu);
  out[4] = finiteOr(s.memory, METRIC_DEFAULTS.memory);
  out[5] = finiteOr(s.latencyMs, METRIC_DEFAULTS.latencyMs) / 1000;
  out[6] = finiteOr(s.errorRate, METRIC_DEFAULTS.errorRate);
  const since = Number.isNaN(s.sinceFailureS) ? METRIC_DEFAULTS.sinceFailureS : s.sinceFailureS;
  out[7] = Math.min(1, since / ctx.episodeSeconds);
  out[8] = finiteOr(s.desiredReplicas, 0) / maxR;
  return out;
}

// ---------------------------------------------------------------------------
// SLO

export interface Slo {
  /** Latency ceiling in ms. */
  readonly latencyMs: number;
  /** Error-rate ceiling, 0..1. */
  readonly errorRate: number;
}

/** The SLO holds when at least one replica is ready and latency and errors are within it. */
export function sloHolds(s: Snapshot, slo: Slo): boolean {
  return s.readyReplicas >= 1 && s.errorRate <= slo.errorRate && s.latencyMs <= slo.latencyMs;
}

// ---------------------------------------------------------------------------
// Faults

export const FAULT_TYPES = [
  "pod-kill",
  "pod-failure",
  "cpu-stress",
  "memory-leak",
  "network-delay",
  "load-spike",
] as const;
export type FaultType = (typeof FAULT_TYPES)[number];

const seconds = z.number().positive();

/**
 * One fault and its parameters, with defaults. Each type maps one-to-one to a Chaos Mesh
 * experiment (or a load-generator change) on the cluster backend.
 */
export const faultSpecSchema = z.discriminatedUnion("type", [
  z
    .object({ type: z.literal("pod-kill") })
    .strict()
    .describe("Deletes one pod (PodChaos pod-kill); its ReplicaSet replaces it."),
  z
    .object({
      type: z.literal("pod-failure"),
      durationS: seconds.default(120).describe("How long the container keeps failing, seconds."),
    })
    .strict()
    .describe("Makes one pod's container fail and crash-loop for a while (PodChaos pod-failure)."),
  z
    .object({
      type: z.literal("cpu-stress"),
      durationS: seconds.default(180).describe("How long the stressor runs, seconds."),
      load: z.number().gt(0).max(1).default(0.6).describe("Extra CPU utilisation the stressor adds to its pod, 0..1."),
    })
    .strict()
    .describe("Burns CPU inside one pod (StressChaos cpu)."),
  z
    .object({
      type: z.literal("memory-leak"),
      ratePerMin: z
        .number()
        .gt(0)
        .max(1)
        .default(0.1)
        .describe("Memory growth per minute as a share of the pod's limit; the pod is OOM-killed at the limit."),
    })
    .strict()
    .describe("Leaks memory in one pod until it is restarted or OOM-killed (StressChaos memory)."),
  z
    .object({
      type: z.literal("network-delay"),
      durationS: seconds.default(180).describe("How long the delay lasts, seconds."),
      delayMs: z.number().positive().default(300).describe("Latency added to every request the pod serves, ms."),
    })
    .strict()
    .describe("Delays one pod's network traffic (NetworkChaos delay)."),
  z
    .object({
      type: z.literal("load-spike"),
      durationS: seconds.default(300).describe("How long the spike lasts, seconds."),
      factor: z.number().gt(1).default(2).describe("Multiplier on the offered request rate."),
    })
    .strict()
    .describe("Multiplies the offered load on the whole service (load-generator change)."),
]);
export type FaultSpecInput = z.input<typeof faultSpecSchema>;
export type FaultSpec = z.output<typeof faultSpecSchema>;

/** Fault types that hit one pod, rather than the whole service. */
export function faultTargetsPod(type: FaultType): boolean {
  return type !== "load-spike";
}

/**
 * What ends a fault's effect (its live span), by type. One definition for every backend,
 * for the metrics (an incident is attributed to the faults live when it starts) and for the
 * unnecessary-action rule (an action while no fault is live):
 * - `cleared`: the fault is taken away (its duration is over, or the episode ends);
 * - `pod-deleted`: the pod carrying the effect is deleted and nothing takes its place
 *   (a scale-down, a restart action on a stressed, delayed or failing pod, a replacement
 *   deleted before it became ready);
 * - `replacement-ready`: the pod that takes the affected pod's place is ready: the
 *   ReplicaSet's replacement of a killed pod, the container restarted after the leak's OOM
 *   kill, or the fresh pod of a restart action on a leaking pod.
 *
 * | fault | live until |
 * |---|---|
 * | pod-kill | the replacement pod is ready (or deleted before that) |
 * | pod-failure | cleared, or the pod deleted |
 * | cpu-stress, network-delay | cleared, or the pod deleted |
 * | memory-leak | the leaking container is replaced (OOM kill or restart action) and ready again, cleared, or the pod deleted by a scale-down |
 * | load-spike | cleared |
 */
export type FaultEndCause = "cleared" | "pod-deleted" | "replacement-ready";

const FAULT_ENDS: Record<FaultType, readonly FaultEndCause[]> = {
  "pod-kill": ["replacement-ready", "pod-deleted"],
  "pod-failure": ["cleared", "pod-deleted"],
  "cpu-stress": ["cleared", "pod-deleted"],
  "memory-leak": ["cleared", "replacement-ready", "pod-deleted"],
  "network-delay": ["cleared", "pod-deleted"],
  "load-spike": ["cleared"],
};

/** Whether `cause` ends a live fault of `type` (see {@link FaultEndCause}). */
export function faultEndsOn(type: FaultType, cause: FaultEndCause): boolean {
  return FAULT_ENDS[type].includes(cause);
}

/** Phases of a pod that is running its container: what a pod fault can hit. */
export function podIsRunning(phase: number): boolean {
  return phase === PodPhase.Healthy || phase === PodPhase.Degraded;
}

/**
 * The rank (0 = oldest) among the running pods that a pod fault hits:
 * `floor(targetKey * baseReplicas) mod running`, or -1 when no pod is running (the fault is
 * skipped). It depends on the schedule's own draw and on how many pods run, never on which
 * pods a policy restarted or drained, so every policy's faults hit the same rank as long as
 * the same number of pods run. `baseReplicas` is the deployment's replica count at the
 * start (the spread of ranks the draw covers).
 */
export function faultTargetRank(targetKey: number, baseReplicas: number, running: number): number {
  if (running <= 0) return -1;
  const k = Math.min(Math.floor(targetKey * baseReplicas), baseReplicas - 1);
  return Math.max(k, 0) % running;
}

/**
 * Row of the pod that a fault with `targetKey` hits now, and its rank, or row -1 (rank -1)
 * when no pod is running. Pods are ranked oldest first by `id` (creation order on both
 * backends).
 */
export function pickFaultTarget(
  pods: PodTable,
  targetKey: number,
  baseReplicas: number,
  out: { row: number; rank: number },
): { row: number; rank: number } {
  let running = 0;
  for (let i = 0; i < pods.count; i++) if (podIsRunning(pods.phase[i]!)) running++;
  const rank = faultTargetRank(targetKey, baseReplicas, running);
  out.rank = rank;
  out.row = -1;
  if (rank < 0) return out;
  // The rank-th smallest id among running pods, without sorting (pods are few).
  for (let i = 0; i < pods.count; i++) {
    if (!podIsRunning(pods.phase[i]!)) continue;
    let older = 0;
    for (let j = 0; j < pods.count; j++) {
      if (podIsRunning(pods.phase[j]!) && pods.id[j]! < pods.id[i]!) older++;
    }
    if (older === rank) {
      out.row = i;
      return out;
    }
  }
  return out;
}

/**
 * One scheduled fault. Schedules are computed from a seed alone, before the episode, so
 * every policy faces the same ones: the target is a number in [0, 1) that the backend maps
 * to a running pod at injection time with {@link pickFaultTarget}.
 */
export interface FaultInjection {
  /** Unique within an episode, in schedule order. */
  readonly id: number;
  /** Injection time, seconds since the episode start. */
  readonly atS: number;
  readonly spec: FaultSpec;
  readonly targetKey: number;
}

// ---------------------------------------------------------------------------
// Policy

/** What a policy proposes for one observation. */
export interface Decision {
  action: Action;
  /** The policy's confidence in its action, 0..1 (rule-based policies report 1). */
  confidence: number;
  /** Probability of each action, by action id, where the policy has them. */
  probs?: ArrayLike<number>;
  /** Short human-readable why, for the audit log (e.g. "cpu 0.93 > 0.80"). */
  reason?: string;
}

export type MaybePromise<T> = T | Promise<T>;

/**
 * How a policy's choice relates to the guard: `none`, it chooses among every action and
 * the guard turns a refused one into noop; `guard`, it chooses only among the actions the
 * guard's limits allow (`allowedActions`, harness/core/guard.ts): a model trained with
 * PPO's `actionMask: guard`, as its card says.
 */
export const ACTION_MASKS = ["none", "guard"] as const;
export type ActionMask = (typeof ACTION_MASKS)[number];

/**
 * Anything that maps an observation to a proposed action. `state` is the codec vector
 * (`obs-v1` unless the policy says otherwise); `snapshot` carries the physical values for
 * rule-based policies. Implementations must not keep references to either: both are
 * reused buffers.
 */
export interface Policy {
  readonly name: string;
  /**
   * The state codec this policy reads (harness/core/codecs.ts registers them by name);
   * absent: `obs-v1`. The loop encodes every observation with it.
   */
  readonly codec?: string;
  /**
   * `guard`: the loop passes `decide` the actions the guard's limits allow at this step
   * (`allowed`, 1 per allowed action id) and the policy chooses among them. Absent: `none`.
   */
  readonly actionMask?: ActionMask;
  /** Called at the start of every episode with that episode's seed. */
  reset?(seed: number): void;
  /**
   * The decision for one observation. `signal` aborts when the loop stops waiting (the
   * guard's policy timeout, or the run's abort): a remote policy cancels its call on it.
   * `allowed` is given to a policy with `actionMask: "guard"` only; valid during the call.
   */
  decide(state: Float32Array, snapshot: Snapshot, signal?: AbortSignal, allowed?: Uint8Array): MaybePromise<Decision>;
}

/**
 * A policy that decides without waiting (every in-process policy). The simulator path
 * can then run without a microtask per step. The returned object may be reused by the
 * next call.
 */
export interface SyncPolicy extends Policy {
  decide(state: Float32Array, snapshot: Snapshot): Decision;
}

// ---------------------------------------------------------------------------
// Backend failures

/**
 * What a backend's error says about itself: a stable `code`, and whether retrying may
 * succeed. The loop's outcome switch reads these two fields, never message text; any error
 * object carrying them qualifies (cluster/prometheus's `PrometheusError` does).
 */
export interface BackendFailure {
  readonly code: string;
  readonly transient: boolean;
}

/** A backend call's failure: transient (a timeout, 409/429/5xx, a scrape gap) or terminal. */
export class BackendError extends Error implements BackendFailure {
  override readonly name = "BackendError";
  constructor(
    readonly code: string,
    readonly transient: boolean,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True for an error that says retrying may succeed (`transient: true`). */
export function isTransient(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as Partial<BackendFailure>).transient === true;
}

// ---------------------------------------------------------------------------
// Backend and clock

/** Time as a backend sees it: virtual for the simulator, wall time for a cluster. */
export interface Clock {
  /**
   * Seconds since the clock's origin. One origin for the clock's whole life (a run, or a
   * controller's process): the loop's observation grid is `start + k × stepSeconds` on it.
   */
  now(): number;
  /**
   * Returns once `now() >= deadline` (seconds on this clock's timeline), at once when the
   * deadline has passed, and early when `signal` aborts. Absolute, so the time spent
   * observing and deciding never shifts the next step. On the simulator this advances the
   * dynamics to the deadline.
   */
  sleepUntil(deadline: number, signal?: AbortSignal): MaybePromise<void>;
}

/** What executing an action did. */
export interface ActionOutcome {
  /** False when the backend could not carry it out (no eligible pod, API refused). */
  readonly applied: boolean;
  /** Id of the pod acted on, or -1. */
  readonly podId: number;
  /**
   * Name and uid of the pod acted on. Absent: the loop takes them from the row of `podId` in
   * the snapshot it decided on (the pod an action hits was in it), else "".
   */
  readonly podName?: string;
  readonly podUid?: string;
  readonly message: string;
}

/** Something that happened inside a backend, for the event log. */
export interface BackendEvent {
  readonly time: number;
  readonly kind:
    | "fault-injected"
    /** A pod fault found no running pod to hit: it never acted. */
    | "fault-skipped"
    | "fault-cleared"
    /** The fault's effect is gone (its live span ends; see {@link FaultEndCause}). */
    | "fault-ended"
    | "pod-crashed"
    | "pod-oom-killed"
    | "pod-replaced"
    | "pod-ready"
    | "pod-restarted";
  readonly podId: number;
  /**
   * Name and uid of the pod, where the backend knows them. Absent: the loop takes them from
   * the row of `podId` in its latest snapshot, else "" (a pod gone before it was observed).
   */
  readonly podName?: string;
  readonly podUid?: string;
  /** The fault involved, or -1. */
  readonly faultId: number;
  /** fault-injected on a pod: the target's rank among running pods (oldest 0), else -1. */
  readonly targetRank?: number;
  readonly detail: string;
}

/**
 * A deployment under test. The controller loop only ever speaks this interface, so the
 * same loop drives the simulator and a real cluster.
 */
export interface Backend {
  readonly clock: Clock;
  // `signal`, where given, aborts when the loop gives up on the call (its deadline, or the
  // run's abort): a real backend cancels its request on it. The simulator never waits.
  observe(signal?: AbortSignal): MaybePromise<Snapshot>;
  execute(action: Action, signal?: AbortSignal): MaybePromise<ActionOutcome>;
  inject(fault: FaultInjection, signal?: AbortSignal): MaybePromise<void>;
  clear(fault: FaultInjection, signal?: AbortSignal): MaybePromise<void>;
  /**
   * Events since the previous call; the caller takes ownership of the array. A backend
   * reports every fault it injects, skips or clears (`fault-injected` with the pod it hit
   * and its rank, `fault-skipped`, `fault-cleared`) and the end of every fault's effect
   * (`fault-ended`, once per fault, by {@link faultEndsOn}): the loop records those, not
   * the schedule.
   */
  drainEvents(): BackendEvent[];
  /**
   * The load the backend's own generator offers at this step, requests per second, before
   * any load-spike fault (the simulator's workload series, the testbed's load generator):
   * stored per step (`steps.load_rps`) so a replay can offer the same load again. Absent
   * (stored NaN) where the backend does not drive the load.
   */
  offeredLoadRps?(): number;
}

// ---------------------------------------------------------------------------
// Replica limits

export interface ReplicaLimits {
  /** Never below 1: a deployment scaled to zero cannot recover by itself. */
  readonly minReplicas: number;
  readonly maxReplicas: number;
}
