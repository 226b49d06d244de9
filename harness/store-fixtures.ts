/**
 * Hand-made traces and run records for the trace store's tests and benchmark: small
 * enough to reason about step by step, built through the same `EpisodeTrace` the loop fills.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EpisodeMeta, RunContext } from "./store.ts";
import { createTrace, type EpisodeTrace, type StepColumn, type TraceEvent } from "./trace.ts";

export type StepValues = Partial<Record<StepColumn, number>>;

/** What every step holds unless told otherwise: a healthy 3-replica service, noop, SLO ok. */
const BASE_STEP: StepValues = {
  desired_replicas: 3,
  ready_replicas: 3,
  pods: 3,
  healthy: 3,
  latency_ms: 50,
  error_rate: 0,
  request_rate: 100,
  cpu: 0.4,
  memory: 0.3,
  confidence: 1,
  slo_ok: 1,
};

/**
 * A trace of `n` steps `stepSeconds` apart; `step(i)` overrides columns of step i
 * (`step` and `time_s` are set from i unless overridden).
 */
export function makeTrace(
  n: number,
  step: (i: number) => StepValues = () => ({}),
  events: readonly Partial<TraceEvent>[] = [],
  stepSeconds = 10,
): EpisodeTrace {
  const trace = createTrace(n);
  for (let i = 0; i < n; i++) {
    const values: StepValues = { ...BASE_STEP, step: i, time_s: i * stepSeconds, ...step(i) };
    for (const [k, v] of Object.entries(values)) trace.columns[k as StepColumn][i] = v;
  }
  trace.length = n;
  for (const e of events) {
    trace.events.push({
      time: 0,
      kind: "fault-injected",
      action: -1,
      podId: -1,
      podName: "",
      podUid: "",
      faultId: -1,
      detail: "",
      ...e,
    });
  }
  return trace;
}

/** An `EpisodeMeta` for a cell and seed; the key is derived from them. */
export function makeMeta(over: Partial<EpisodeMeta> & { seed?: number } = {}): EpisodeMeta {
  const fault = over.fault ?? "pod-kill";
  const frequency = over.frequency ?? "often";
  const policy = over.policy ?? "heuristic";
  const seed = over.seed ?? 1;
  return {
    key: `${fault}|${frequency}|${policy}|${seed}`,
    fault,
    frequency,
    policy,
    policyName: policy,
    seed,
    backend: "sim",
    status: "completed",
    error: null,
    steps: 10,
    stepSeconds: 10,
    confirmWindowS: 20,
    sloLatencyMs: 300,
    sloErrorRate: 0.01,
    wallMs: 1.5,
    faultSpecs: [{ type: fault }],
    ...over,
  };
}

export function makeRunContext(over: Partial<RunContext> = {}): RunContext {
  return {
    runId: "run-1",
    scenarioName: "test",
    scenarioSha256: "a".repeat(64),
    scenarioText: "name: test\n",
    planSha256: "b".repeat(64),
    shard: null,
    backend: "sim",
    gitSha: null,
    nodeVersion: process.version,
    host: "test-host",
    cpus: 2,
    argv: ["run", "test.yaml"],
    modelChecksums: {},
    seeds: [1, 2],
    startedAt: new Date("2025-01-01T00:00:00Z"),
    ...over,
  };
}

/** A fresh temporary directory. */
export function tempDir(prefix = "trace-store-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
