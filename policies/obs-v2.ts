/**
 * State codec `obs-v2` (issue 17): what obs-v1 shows, plus what a scaling, drain or restart
 * decision needs and obs-v1 hides. Added beside obs-v1, never in its place: obs-v1 stays the
 * seed's contract (harness/core/contract.ts), and SB3 models use it.
 *
 * - **load against capacity**: the offered request rate over what the serving pods can
 *   serve, and over what the replica ceiling can. CPU saturates at 1 under a x3 load spike;
 *   this ratio reads 3, so a spike's size is visible the step it starts.
 * - **trends**: how latency, error rate, CPU, desired replicas and load changed over the last
 *   observation and over the last three, per 10 s and per 30 s of elapsed time, so a 5 s or
 *   30 s observation grid reads on the same scale as training's 10 s.
 * - **pending and drained pods**: capacity on its way, and pods out of rotation that still cost.
 * - **the worst pod**: the highest latency among serving pods (what a drain or restart
 *   fixes) and the highest memory among running pods (a leak before its OOM kill).
 *
 * Every field comes from the `Snapshot` and its pod rows, which the simulator, the PromQL
 * collector (local testbed and cluster) and the Kubernetes backend all fill; the one figure
 * that is not a metric is the deployment's per-pod capacity (`podCapacityRps` in the codec
 * context: the simulator's parameter, or the deployment's measured capacity on a real one).
 *
 * Pure: `encodeObsV2(snapshot, history, ctx, out)` reads the current snapshot and the past
 * ones in `history` and writes 25 floats; `pushObsV2History` appends the current snapshot's
 * trend inputs to `history` afterwards. `ObsV2Encoder` holds one history per episode for
 * callers that encode one stream of observations. Non-finite inputs encode as obs-v1 does
 * (the contract's METRIC_DEFAULTS), so the vector never holds NaN.
 */
import { registerCodec, type StateCodec } from "../harness/core/codecs.ts";
import {
  type CodecContext,
  METRIC_DEFAULTS,
  PodPhase,
  type PodTable,
  type Snapshot,
} from "../harness/core/contract.ts";

/** What obs-v2 needs beyond obs-v1's context. */
export interface ObsV2Context extends CodecContext {
  /** Requests per second one pod serves at full CPU (sim: `podCapacityRps`). */
  readonly podCapacityRps: number;
}

export const OBS_V2 = {
  name: "obs-v2",
  dim: 25,
  features: [
    "healthy / maxReplicas",
    "degraded / maxReplicas",
    "crashed / maxReplicas",
    "pending (starting, restarting) / maxReplicas",
    "drained / maxReplicas",
    "desired replicas / maxReplicas",
    "cpu (0..1)",
    "memory (0..1)",
    "latency_ms / 1000",
    "error rate (0..1)",
    "min(1, seconds since last failure / episode seconds)",
    "request rate / (serving pods x podCapacityRps), clipped to 10",
    "request rate / (maxReplicas x podCapacityRps), clipped to 10",
    "worst serving pod's latency_ms / 1000",
    "worst running pod's memory (0..1)",
    "latency change per 10 s over the last observation (/1000)",
    "latency change per 30 s over the last three observations (/1000)",
    "error rate change per 10 s, last observation",
    "error rate change per 30 s, last three observations",
    "cpu change per 10 s, last observation",
    "cpu change per 30 s, last three observations",
    "desired replicas change per 10 s, last observation (/ maxReplicas)",
    "desired replicas change per 30 s, last three observations (/ maxReplicas)",
    "load (feature 12) change per 10 s, last observation",
    "load (feature 12) change per 30 s, last three observations",
  ],
} as const;

/** Observations of the past a trend looks back over (the longer window). */
export const OBS_V2_HISTORY = 3;
/** Trend inputs kept per past observation: time, latency/1000, error rate, cpu, desired/maxR, load. */
const FIELDS = 6;
/** Ratios of load to capacity are clipped here: past 10x, more says nothing new and hurts the normaliser. */
const LOAD_CLIP = 10;

/**
 * The trend inputs of the last {@link OBS_V2_HISTORY} observations of one stream (plain
 * data: copy it to checkpoint). `count` of them are valid, the newest at `(head - 1)`.
 */
export interface ObsV2History {
  readonly rows: Float64Array;
  head: number;
  count: number;
}

export function createObsV2History(): ObsV2History {
  return { rows: new Float64Array(OBS_V2_HISTORY * FIELDS), head: 0, count: 0 };
}

/** Forgets the past (a new episode). */
export function clearObsV2History(h: ObsV2History): void {
  h.head = 0;
  h.count = 0;
}

function finiteOr(x: number, fallback: number): number {
  return Number.isFinite(x) ? x : fallback;
}

/** Serving pods (ready, not drained): from the rows when there are any, else from the counts. */
function servingPods(s: Snapshot): number {
  const t = s.podTable;
  if (t !== null) {
    let n = 0;
    for (let i = 0; i < t.count; i++) if (t.phase[i]! <= PodPhase.Degraded && t.drained[i] === 0) n++;
    return n;
  }
  return Math.max(0, finiteOr(s.healthy, 0) + finiteOr(s.degraded, 0) - finiteOr(s.drained, 0));
}

/** Highest latency among serving pods, and highest memory among running ones; aggregates without rows. */
function worstPod(s: Snapshot, t: PodTable | null, into: { latencyMs: number; memory: number }): void {
  into.latencyMs = finiteOr(s.latencyMs, METRIC_DEFAULTS.latencyMs);
  into.memory = finiteOr(s.memory, METRIC_DEFAULTS.memory);
  if (t === null || t.count === 0) return;
  let lat = -1;
  let mem = -1;
  for (let i = 0; i < t.count; i++) {
    const ph = t.phase[i]!;
    if (ph > PodPhase.Degraded) continue;
    const m = t.memory[i]!;
    if (Number.isFinite(m) && m > mem) mem = m;
    if (t.drained[i] === 1) continue;
    const l = t.latencyMs[i]!;
    if (Number.isFinite(l) && l > lat) lat = l;
  }
  // No serving pod: the service's own latency (the timeout) says more than 0 would.
  if (lat >= 0) into.latencyMs = lat;
  if (mem >= 0) into.memory = mem;
}

/** The offered request rate, never below 0. */
function requestRate(s: Snapshot): number {
  return Math.max(0, finiteOr(s.requestRate, METRIC_DEFAULTS.requestRate));
}

/** `rps / capacity` in [0, LOAD_CLIP]; with no capacity, any load reads as the clip. */
function loadRatio(rps: number, capacity: number): number {
  if (!(capacity > 0)) return rps > 0 ? LOAD_CLIP : 0;
  return Math.min(LOAD_CLIP, rps / capacity);
}

const WORST = { latencyMs: 0, memory: 0 };
const NOW = new Float64Array(FIELDS);

/** The trend inputs of a snapshot: time, latency/1000, error, cpu, desired/maxR, load over the ceiling. */
function trendInputs(s: Snapshot, ctx: ObsV2Context, out: Float64Array, at: number): void {
  out[at] = finiteOr(s.time, 0);
  out[at + 1] = finiteOr(s.latencyMs, METRIC_DEFAULTS.latencyMs) / 1000;
  out[at + 2] = finiteOr(s.errorRate, METRIC_DEFAULTS.errorRate);
  out[at + 3] = finiteOr(s.cpu, METRIC_DEFAULTS.cpu);
  out[at + 4] = finiteOr(s.desiredReplicas, 0) / ctx.maxReplicas;
  out[at + 5] = loadRatio(requestRate(s), ctx.maxReplicas * ctx.podCapacityRps);
}

/**
 * Encodes `s` with the past in `h` as the 25-float obs-v2 vector (order of
 * `OBS_V2.features`) into `out` (allocated when omitted). Trends are 0 while `h` holds no
 * earlier observation, or when no time has passed since it. Does not change `h`.
 */
export function encodeObsV2(
  s: Snapshot,
  h: Readonly<ObsV2History>,
  ctx: ObsV2Context,
  out: Float32Array = new Float32Array(OBS_V2.dim),
): Float32Array {
  const maxR = ctx.maxReplicas;
  out[0] = finiteOr(s.healthy, 0) / maxR;
  out[1] = finiteOr(s.degraded, 0) / maxR;
  out[2] = finiteOr(s.crashed, 0) / maxR;
  out[3] = finiteOr(s.pending, 0) / maxR;
  out[4] = finiteOr(s.drained, 0) / maxR;
  out[5] = finiteOr(s.desiredReplicas, 0) / maxR;
  out[6] = finiteOr(s.cpu, METRIC_DEFAULTS.cpu);
  out[7] = finiteOr(s.memory, METRIC_DEFAULTS.memory);
  out[8] = finiteOr(s.latencyMs, METRIC_DEFAULTS.latencyMs) / 1000;
  out[9] = finiteOr(s.errorRate, METRIC_DEFAULTS.errorRate);
  const since = Number.isNaN(s.sinceFailureS) ? METRIC_DEFAULTS.sinceFailureS : s.sinceFailureS;
  out[10] = Math.min(1, since / ctx.episodeSeconds);
  // No serving pod: any load is more than the pods can take; the clip stands for "all of it".
  out[11] = loadRatio(requestRate(s), servingPods(s) * ctx.podCapacityRps);
  trendInputs(s, ctx, NOW, 0);
  out[12] = NOW[5]!;
  worstPod(s, s.podTable, WORST);
  out[13] = WORST.latencyMs / 1000;
  out[14] = WORST.memory;
  // Trends: [latency, error, cpu, desired, load] per 10 s over the newest past row, per 30 s over the oldest.
  const newest = h.count > 0 ? ((h.head - 1 + OBS_V2_HISTORY) % OBS_V2_HISTORY) * FIELDS : -1;
  const oldest = h.count > 0 ? ((h.head - h.count + OBS_V2_HISTORY) % OBS_V2_HISTORY) * FIELDS : -1;
  for (let k = 0; k < 5; k++) {
    out[15 + 2 * k] = trend(h.rows, newest, k + 1, 10);
    out[16 + 2 * k] = trend(h.rows, oldest, k + 1, 30);
  }
  return out;
}

/** Trends are clipped here: a jump over a sliver of time would otherwise overflow a float32. */
const TREND_CLIP = 10;
/** Observations closer together than this (seconds) give no trend (a repeated timestamp). */
const MIN_DT_S = 1e-3;

/** Change of field `f` from the past row at `at` to now, per `per` seconds; 0 without a past. */
function trend(rows: Float64Array, at: number, f: number, per: number): number {
  if (at < 0) return 0;
  const dt = NOW[0]! - rows[at]!;
  if (!(dt >= MIN_DT_S)) return 0;
  const x = ((NOW[f]! - rows[at + f]!) * per) / dt;
  return Math.min(TREND_CLIP, Math.max(-TREND_CLIP, x));
}

/** Appends `s`'s trend inputs to `h`, dropping the oldest past the window. */
export function pushObsV2History(h: ObsV2History, s: Snapshot, ctx: ObsV2Context): void {
  trendInputs(s, ctx, h.rows, h.head * FIELDS);
  h.head = (h.head + 1) % OBS_V2_HISTORY;
  h.count = Math.min(OBS_V2_HISTORY, h.count + 1);
}

/**
 * One stream's encoder: `encode` writes the vector of each observation in turn and then
 * remembers it; `reset` at every episode start.
 */
export class ObsV2Encoder {
  readonly history = createObsV2History();
  constructor(public ctx: ObsV2Context) {}

  reset(ctx: ObsV2Context = this.ctx): void {
    this.ctx = ctx;
    clearObsV2History(this.history);
  }

  encode(s: Snapshot, out: Float32Array = new Float32Array(OBS_V2.dim)): Float32Array {
    encodeObsV2(s, this.history, this.ctx, out);
    pushObsV2History(this.history, s, this.ctx);
    return out;
  }
}

/**
 * obs-v2 in the codec registry (harness/core/codecs.ts), trace code 2. A context without
 * `podCapacityRps` (a cluster whose scenario states no `cluster.podCapacityRps`) is refused when the encoder is
 * created, before the first decision: a guessed capacity would make slots 11 and 12 lie.
 */
export const OBS_V2_CODEC: StateCodec = {
  name: OBS_V2.name,
  code: 2,
  dim: OBS_V2.dim,
  features: OBS_V2.features,
  create(ctx) {
    const cap = ctx.podCapacityRps;
    if (cap === undefined || !(cap > 0)) {
      throw new Error(
        `Expected the codec context's \`podCapacityRps\` to be a positive number for obs-v2 (load against capacity), got ${String(cap)}: this backend does not state its pods' capacity (on a cluster, set the scenario's \`cluster.podCapacityRps\`)`,
      );
    }
    const enc = new ObsV2Encoder({ ...ctx, podCapacityRps: cap });
    return { encode: (s, out) => enc.encode(s as Snapshot, out) };
  },
};
registerCodec(OBS_V2_CODEC);
