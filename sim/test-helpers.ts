/**
 * Helpers shared by the simulator's tests: run an episode under a small policy function
 * and keep copies of what the env reuses.
 */
import { createHash } from "node:crypto";
import { Action, type PodTable, type Snapshot } from "../harness/core/contract.ts";
import { SimEnv, type SimEnvConfig } from "./env.ts";
import { copyEvent, type SimEvent } from "./events.ts";

export type TestPolicy = (snapshot: Snapshot, step: number) => Action;

export const noop: TestPolicy = () => Action.Noop;

/** One step, copied out of the env's reused buffers. */
export interface StepRecord {
  readonly step: number;
  readonly action: Action;
  readonly applied: boolean;
  readonly obs: Float32Array;
  readonly reward: number;
  readonly terminated: boolean;
  readonly truncated: boolean;
  readonly snapshot: Omit<Snapshot, "podTable">;
  readonly pods: PodRow[];
  readonly events: SimEvent[];
}

export interface PodRow {
  readonly id: number;
  readonly phase: number;
  readonly drained: number;
  readonly cpu: number;
  readonly memory: number;
  readonly latencyMs: number;
  readonly errorRate: number;
  readonly restarts: number;
}

export function podRows(t: PodTable | null): PodRow[] {
  const rows: PodRow[] = [];
  if (t === null) return rows;
  for (let i = 0; i < t.count; i++) {
    rows.push({
      id: t.id[i],
      phase: t.phase[i],
      drained: t.drained[i],
      cpu: t.cpu[i],
      memory: t.memory[i],
      latencyMs: t.latencyMs[i],
      errorRate: t.errorRate[i],
      restarts: t.restarts[i],
    });
  }
  return rows;
}

export function scalars(s: Snapshot): Omit<Snapshot, "podTable"> {
  const { podTable: _pods, ...rest } = s;
  return rest;
}

export interface Episode {
  readonly env: SimEnv;
  readonly reset: StepRecord;
  readonly steps: StepRecord[];
}

/** Resets `env` (a new one by default) and steps `policy` until `maxSteps` or the episode ends. */
export function runEpisode(
  seed: number,
  config: SimEnvConfig,
  policy: TestPolicy,
  maxSteps = Number.POSITIVE_INFINITY,
  env: SimEnv = new SimEnv(),
): Episode {
  const r = env.reset(seed, config);
  const reset: StepRecord = {
    step: 0,
    action: Action.Noop,
    applied: true,
    obs: r.obs.slice(),
    reward: 0,
    terminated: false,
    truncated: false,
    snapshot: scalars(r.info.snapshot),
    pods: podRows(r.info.snapshot.podTable),
    events: r.info.events.map(copyEvent),
  };
  const steps: StepRecord[] = [];
  let snapshot = r.info.snapshot;
  for (let k = 0; k < maxSteps; k++) {
    const action = policy(snapshot, k);
    const res = env.step(action);
    snapshot = res.info.snapshot;
    steps.push({
      step: res.info.step,
      action,
      applied: res.info.outcome.applied,
      obs: res.obs.slice(),
      reward: res.reward,
      terminated: res.terminated,
      truncated: res.truncated,
      snapshot: scalars(snapshot),
      pods: podRows(snapshot.podTable),
      events: res.info.events.map(copyEvent),
    });
    if (res.terminated || res.truncated) break;
  }
  return { env, reset, steps };
}

/** sha256 of every step's obs, reward, flags, snapshot scalars, pod rows and events. */
export function hashEpisode(e: Episode): string {
  const h = createHash("sha256");
  for (const s of [e.reset, ...e.steps]) {
    h.update(Buffer.from(s.obs.buffer, s.obs.byteOffset, s.obs.byteLength));
    h.update(JSON.stringify([s.reward, s.terminated, s.truncated, s.applied, s.snapshot, s.pods, s.events]));
  }
  return h.digest("hex");
}

/** A seeded uniform-random policy (xorshift32; no Math.random). */
export function randomPolicy(seed: number): TestPolicy {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return ((x >>> 0) % 5) as Action;
  };
}

export function eventsOf(e: Episode, kind: SimEvent["kind"]): SimEvent[] {
  return e.steps.flatMap((s) => s.events.filter((ev) => ev.kind === kind));
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
