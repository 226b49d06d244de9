/**
 * `checkSim()`: the determinism checker, modelled on Gymnasium's `check_step_determinism`.
 * Two environments are reset with the same seed and given the same actions; their traces
 * must be identical, field by field. The first difference throws an Error naming the
 * field and the step, e.g.
 *
 *   checkSim: "snapshot.latencyMs" differs at step 17 (episode 0, seed 7): 52.1 vs 52.3
 *
 * Fields compared: at reset and after every step, every element of `obs`, `reward`,
 * `terminated`, `truncated`, every scalar of the snapshot, every column of every pod row,
 * the action outcome, and each event (kind, time, pod, fault, target rank).
 */
import { ACTION_COUNT, type Action, type Snapshot } from "../harness/core/contract.ts";
import { streamRng, uniform01 } from "../harness/core/rng.ts";
import { type ResetResult, SimEnv, type SimEnvConfig, type SimInfo, type StepResult } from "./env.ts";

/** Anything with SimEnv's reset/step (a wrapper, a deliberately broken env in a test). */
export interface EnvLike {
  reset(seed: number, config?: SimEnvConfig): ResetResult;
  step(action: Action): StepResult;
}

export interface CheckSimOptions {
  /** @default 0 */
  readonly seed?: number;
  /** Steps to compare, over as many episodes as it takes. @default 400 */
  readonly steps?: number;
  /** @default mixed faults of every type, Poisson every 60 s, default params */
  readonly config?: SimEnvConfig;
  /** @default () => new SimEnv() */
  readonly makeEnv?: () => EnvLike;
}

export const CHECK_CONFIG: SimEnvConfig = {
  faults: [
    { type: "pod-kill" },
    { type: "pod-failure", durationS: 60 },
    { type: "cpu-stress" },
    { type: "memory-leak", ratePerMin: 0.3 },
    { type: "network-delay" },
    { type: "load-spike", factor: 2.5 },
  ],
  frequency: { kind: "poisson", meanIntervalS: 60 },
  workload: { pattern: "random-walk" },
};

type Row = Record<string, number | string | boolean>;

const SNAPSHOT_FIELDS = [
  "time",
  "desiredReplicas",
  "readyReplicas",
  "pods",
  "healthy",
  "degraded",
  "crashed",
  "pending",
  "terminating",
  "drained",
  "cpu",
  "memory",
  "latencyMs",
  "errorRate",
  "requestRate",
  "sinceFailureS",
  "missing",
] as const satisfies readonly (keyof Snapshot)[];

const POD_COLUMNS = ["id", "phase", "drained", "cpu", "memory", "latencyMs", "errorRate", "restarts"] as const;

/** Flattens one observation into named fields (copies: the env reuses its buffers). */
function record(obs: Float32Array, info: SimInfo, step: Row): Row {
  const row: Row = { ...step };
  for (let i = 0; i < obs.length; i++) row[`obs[${i}]`] = obs[i];
  const s = info.snapshot;
  for (const k of SNAPSHOT_FIELDS) row[`snapshot.${k}`] = s[k];
  const pods = s.podTable;
  row["podTable.count"] = pods === null ? -1 : pods.count;
  if (pods !== null) {
    for (let r = 0; r < pods.count; r++) {
      for (const c of POD_COLUMNS) row[`podTable.${c}[${r}]`] = pods[c][r];
    }
  }
  row["outcome.applied"] = info.outcome.applied;
  row["outcome.podId"] = info.outcome.podId;
  row["events.length"] = info.events.length;
  info.events.forEach((e, i) => {
    row[`events[${i}]`] = `${e.kind} t=${e.time} pod=${e.podId} fault=${e.faultId} rank=${e.targetRank}`;
  });
  return row;
}

interface Trace {
  readonly rows: Row[];
}

function run(makeEnv: () => EnvLike, seed: number, steps: number, config: SimEnvConfig): Trace {
  const env = makeEnv();
  const actions = streamRng(seed ^ 0x5eed, 0);
  const rows: Row[] = [];
  let episode = 0;
  let r = env.reset(seed, config);
  rows.push(record(r.obs, r.info, { episode, step: "reset" }));
  for (let k = 0; k < steps; k++) {
    // Mostly noop, like a plausible policy, with every action represented.
    const u = uniform01(actions);
    const action = (u < 0.5 ? 0 : Math.floor(((u - 0.5) / 0.5) * ACTION_COUNT)) as Action;
    const res = env.step(action);
    rows.push(
      record(res.obs, res.info, {
        episode,
        step: res.info.step,
        action,
        reward: res.reward,
        terminated: res.terminated,
        truncated: res.truncated,
      }),
    );
    if (res.terminated || res.truncated) {
      episode++;
      r = env.reset(seed + episode, config);
      rows.push(record(r.obs, r.info, { episode, step: "reset" }));
    }
  }
  return { rows };
}

/** Throws an Error naming the first field and step where two same-seed runs differ. */
export function checkSim(options: CheckSimOptions = {}): void {
  const seed = options.seed ?? 0;
  const steps = options.steps ?? 400;
  const config = options.config ?? CHECK_CONFIG;
  const makeEnv = options.makeEnv ?? (() => new SimEnv());
  const a = run(makeEnv, seed, steps, config);
  const b = run(makeEnv, seed, steps, config);
  const n = Math.max(a.rows.length, b.rows.length);
  for (let k = 0; k < n; k++) {
    const ra = a.rows[k];
    const rb = b.rows[k];
    if (ra === undefined || rb === undefined) {
      throw new Error(`checkSim: the runs have different lengths (${a.rows.length} vs ${b.rows.length} records)`);
    }
    const where = `step ${String(ra.step)} (episode ${String(ra.episode)}, seed ${seed})`;
    const keys = new Set([...Object.keys(ra), ...Object.keys(rb)]);
    for (const key of keys) {
      if (!Object.is(ra[key], rb[key])) {
        throw new Error(`checkSim: "${key}" differs at ${where}: ${String(ra[key])} vs ${String(rb[key])}`);
      }
    }
  }
}
