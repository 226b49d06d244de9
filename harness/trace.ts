/**
 * One episode's trace as it travels from the worker that ran it to the trace store: the
 * steps as columns (one Float64Array per column, transferable without copying), the
 * events as plain objects. `TraceRecorder` is the loop's `EpisodeSink` that fills it.
 *
 * Column names are the `steps` table's column names, in table order (after `episode_id`).
 * Every value is a number: booleans are 0/1, actions are their ids, the guard reason is
 * its index in {@link GUARD_REASONS}, the codec its registry code (harness/core/codecs.ts).
 */

import { GuardReason } from "./core/guard.ts";
import type { LoopEvent, StepRecord } from "./loop.ts";

/** Guard reasons by code, the order the `guard_reasons` lookup table stores. Append only. */
export const GUARD_REASONS = Object.values(GuardReason);
// A plain object: looking a reason up as a property costs less than a Map.get every step.
const REASON_CODE = Object.fromEntries(GUARD_REASONS.map((r, i) => [r, i])) as Record<GuardReason, number>;

export type ColumnType = "INTEGER" | "DOUBLE" | "FLOAT" | "UTINYINT" | "BOOLEAN";

/** The `steps` columns after `episode_id`, with their SQL types. Append only. */
export const STEP_COLUMNS = [
  ["step", "INTEGER"],
  ["time_s", "DOUBLE"],
  ["desired_replicas", "INTEGER"],
  ["ready_replicas", "INTEGER"],
  ["pods", "INTEGER"],
  ["healthy", "INTEGER"],
  ["degraded", "INTEGER"],
  ["crashed", "INTEGER"],
  ["pending", "INTEGER"],
  ["terminating", "INTEGER"],
  ["drained", "INTEGER"],
  ["cpu", "DOUBLE"],
  ["memory", "DOUBLE"],
  ["latency_ms", "DOUBLE"],
  ["error_rate", "DOUBLE"],
  ["request_rate", "DOUBLE"],
  ["since_failure_s", "DOUBLE"],
  ["missing", "INTEGER"],
  // obs-v1, in codec order
  ["obs_healthy", "FLOAT"],
  ["obs_degraded", "FLOAT"],
  ["obs_crashed", "FLOAT"],
  ["obs_cpu", "FLOAT"],
  ["obs_memory", "FLOAT"],
  ["obs_latency", "FLOAT"],
  ["obs_error_rate", "FLOAT"],
  ["obs_since_failure", "FLOAT"],
  ["obs_replicas", "FLOAT"],
  ["proposed", "UTINYINT"],
  ["confidence", "FLOAT"],
  ["executed", "UTINYINT"],
  ["reason", "UTINYINT"],
  ["applied", "BOOLEAN"],
  ["reward", "DOUBLE"],
  ["slo_ok", "BOOLEAN"],
  ["active_faults", "INTEGER"],
  // The offered load before load spikes (the backend's own generator), NaN where unknown: a replay's input.
  ["load_rps", "DOUBLE"],
  // The state codec that fed the decision (harness/core/codecs.ts code; the `codecs` lookup
  // table names it), 0 when none did (the noop fallback). Schema version 5.
  ["codec", "UTINYINT"],
] as const satisfies readonly (readonly [string, ColumnType])[];

export type StepColumn = (typeof STEP_COLUMNS)[number][0];

/** The obs-v1 vector's columns, in the codec's order (what a decision was fed). */
export const OBS_COLUMNS = STEP_COLUMNS.map(([c]) => c).filter((c): c is Extract<StepColumn, `obs_${string}`> =>
  c.startsWith("obs_"),
);
export type StepColumns = Record<StepColumn, Float64Array>;

/** An event as stored; `LoopEvent` made structured-cloneable (it already is). */
export type TraceEvent = LoopEvent;

export interface EpisodeTrace {
  /** Steps recorded: rows `[0, length)` of every column. */
  length: number;
  readonly columns: StepColumns;
  readonly events: TraceEvent[];
}

export function createTrace(capacity: number): EpisodeTrace {
  // One buffer for all the columns: an episode allocates (and transfers) one ArrayBuffer
  // instead of one per column. `Object.fromEntries` keeps `columns` in fast-property mode,
  // which a keyed store per column into `{}` would not: `onStep` writes every column every step.
  const buffer = new ArrayBuffer(STEP_COLUMNS.length * capacity * Float64Array.BYTES_PER_ELEMENT);
  const columns = Object.fromEntries(
    STEP_COLUMNS.map(([name], j) => [
      name,
      new Float64Array(buffer, j * capacity * Float64Array.BYTES_PER_ELEMENT, capacity),
    ]),
  ) as StepColumns;
  return { length: 0, columns, events: [] };
}

/** The buffers to list as transferables when posting a trace to another thread (each once). */
export function traceTransferList(trace: EpisodeTrace): ArrayBuffer[] {
  return [...new Set(STEP_COLUMNS.map(([name]) => trace.columns[name].buffer as ArrayBuffer))];
}

/** The loop's sink that writes every step and event into a trace. */
export class TraceRecorder {
  readonly trace: EpisodeTrace;

  constructor(capacity: number) {
    this.trace = createTrace(capacity);
  }

  onStep(r: StepRecord): void {
    const t = this.trace;
    const c = t.columns;
    const i = t.length++;
    const s = r.snapshot;
    c.step[i] = r.step;
    c.time_s[i] = r.time;
    c.desired_replicas[i] = s.desiredReplicas;
    c.ready_replicas[i] = s.readyReplicas;
    c.pods[i] = s.pods;
    c.healthy[i] = s.healthy;
    c.degraded[i] = s.degraded;
    c.crashed[i] = s.crashed;
    c.pending[i] = s.pending;
    c.terminating[i] = s.terminating;
    c.drained[i] = s.drained;
    c.cpu[i] = s.cpu;
    c.memory[i] = s.memory;
    c.latency_ms[i] = s.latencyMs;
    c.error_rate[i] = s.errorRate;
    c.request_rate[i] = s.requestRate;
    c.since_failure_s[i] = s.sinceFailureS;
    c.missing[i] = s.missing;
    const o = r.state;
    c.obs_healthy[i] = o[0]!;
    c.obs_degraded[i] = o[1]!;
    c.obs_crashed[i] = o[2]!;
    c.obs_cpu[i] = o[3]!;
    c.obs_memory[i] = o[4]!;
    c.obs_latency[i] = o[5]!;
    c.obs_error_rate[i] = o[6]!;
    c.obs_since_failure[i] = o[7]!;
    c.obs_replicas[i] = o[8]!;
    c.proposed[i] = r.proposed;
    c.confidence[i] = r.confidence;
    c.executed[i] = r.executed;
    c.reason[i] = REASON_CODE[r.reason];
    c.applied[i] = r.applied ? 1 : 0;
    c.reward[i] = r.reward;
    c.slo_ok[i] = r.sloOk ? 1 : 0;
    c.active_faults[i] = r.activeFaults;
    c.load_rps[i] = r.loadRps;
    c.codec[i] = r.codec;
  }

  onEvent(e: LoopEvent): void {
    this.trace.events.push(e);
  }
}
