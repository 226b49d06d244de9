/**
 * The gym-style shell around the core (Gymnasium's `Env` over a `FuncEnv`):
 *
 *   const env = new SimEnv();
 *   let { obs, info } = env.reset(seed, config);
 *   for (;;) {
 *     const r = env.step(action);          // r.obs, r.reward, r.terminated, r.truncated, r.info
 *     if (r.terminated || r.truncated) break;
 *   }
 *
 * One step, as the controller loop takes it (harness/core/step.ts): the action is applied
 * now; the timed faults that are over are cleared and the scheduled ones due now injected;
 * the dynamics advance by `stepSeconds`; the new state is observed, rewarded and encoded
 * as `obs-v1`. `reset` observes time 0 before any fault, as the loop's first step does.
 *
 * - terminated: no pod can serve (no ready, non-drained pod) after the step.
 * - truncated: the episode limit (`episodeSteps`) is reached; nothing else truncates.
 *
 * REUSED BUFFERS: `obs`, the result objects, `info`, `info.snapshot` (and its `podTable`,
 * the simulator's own rows) and `info.events` are overwritten by the next `step`/`reset`.
 * Copy what you keep (`obs.slice()`, `{ ...info.snapshot }`, `copyEvent(e)`).
 */

import { z } from "zod";
import {
  type Action,
  type ActionOutcome,
  type CodecContext,
  copySnapshotScalars,
  createSnapshot,
  encodeObsV1,
  type FaultInjection,
  type FaultSpec,
  type FaultSpecInput,
  faultSpecSchema,
  isAction,
  OBS_V1,
  type ReplicaLimits,
  type Snapshot,
} from "../harness/core/contract.ts";
import { streamRngs } from "../harness/core/rng.ts";
import {
  type Frequency,
  type FrequencyInput,
  frequencySchema,
  INJECT_MODES,
  type InjectMode,
  scheduleFrom,
} from "../harness/core/schedule.ts";
import { FaultTimeline } from "../harness/core/step.ts";
import { advance, applyAction, clearFault, injectFault, observe, resetState, SimState } from "./core.ts";
import type { SimEvent } from "./events.ts";
import {
  type SimParams,
  type SimParamsInput,
  simParamsSchema,
  type Workload,
  type WorkloadInput,
  workloadSchema,
} from "./params.ts";
import { type RewardFn, type RewardName, rewardNameSchema, rewards } from "./reward.ts";

export interface SimEnvConfig {
  /** Deployment parameters (defaults in `simParamsSchema`). */
  readonly params?: SimParamsInput;
  /** Offered load (defaults in `workloadSchema`). */
  readonly workload?: WorkloadInput;
  /** A fixed schedule, replayed every episode. Exclusive with `faults`/`frequency`. */
  readonly schedule?: readonly FaultInjection[];
  /** Fault specs, with `frequency`: each episode's schedule is generated from its seed. */
  readonly faults?: readonly FaultSpecInput[];
  readonly frequency?: FrequencyInput;
  /** With `faults`: `one` draws one spec per injection, `all` injects every spec at once. @default "one" */
  readonly inject?: InjectMode;
  /** Reward function by name. @default "seed" */
  readonly reward?: RewardName;
}

/** What `info` carries at reset and after every step. Reused: copy what you keep. */
export interface SimInfo {
  readonly snapshot: Snapshot;
  /** Events of the step (at reset: none), pooled objects. */
  readonly events: readonly SimEvent[];
  /** Outcome of the step's action (at reset: a noop). */
  readonly outcome: ActionOutcome;
  /** Steps completed in the episode. */
  readonly step: number;
}

export interface ResetResult {
  readonly obs: Float32Array;
  readonly info: SimInfo;
}

export interface StepResult {
  readonly obs: Float32Array;
  readonly reward: number;
  readonly terminated: boolean;
  readonly truncated: boolean;
  readonly info: SimInfo;
}

interface Resolved {
  readonly params: SimParams;
  readonly workload: Workload;
  readonly schedule: readonly FaultInjection[] | null;
  readonly faults: readonly FaultSpec[] | null;
  readonly frequency: Frequency | null;
  readonly inject: InjectMode;
  readonly reward: RewardFn;
}

function resolve(config: SimEnvConfig): Resolved {
  const params = simParamsSchema.parse(config.params ?? {});
  const workload = workloadSchema.parse(config.workload ?? {});
  const reward = rewards[rewardNameSchema.parse(config.reward)];
  if (config.schedule !== undefined && (config.faults !== undefined || config.frequency !== undefined)) {
    throw new Error("Expected either `schedule` or `faults` with `frequency` in the SimEnv config, got both");
  }
  if ((config.faults === undefined) !== (config.frequency === undefined)) {
    throw new Error("Expected `faults` and `frequency` together in the SimEnv config, got only one of them");
  }
  let schedule: FaultInjection[] | null = null;
  if (config.schedule !== undefined) {
    schedule = config.schedule.map((f, i) => {
      if (!(Number.isFinite(f.atS) && f.atS >= 0) || !(f.targetKey >= 0 && f.targetKey < 1)) {
        throw new Error(
          `Expected schedule[${i}] to have atS >= 0 and targetKey in [0, 1), got atS ${f.atS}, targetKey ${f.targetKey}`,
        );
      }
      return { id: f.id, atS: f.atS, spec: faultSpecSchema.parse(f.spec), targetKey: f.targetKey };
    });
    if (new Set(schedule.map((f) => f.id)).size !== schedule.length) {
      throw new Error("Expected the fault ids of `schedule` to be unique");
    }
    schedule.sort((a, b) => a.atS - b.atS || a.id - b.id);
  }
  return {
    params,
    workload,
    schedule,
    faults: config.faults === undefined ? null : z.array(faultSpecSchema).min(1).parse(config.faults),
    frequency: config.frequency === undefined ? null : frequencySchema.parse(config.frequency),
    inject: z.enum(INJECT_MODES).parse(config.inject ?? "one"),
    reward,
  };
}

class MutableInfo implements SimInfo {
  snapshot: Snapshot = createSnapshot();
  events: readonly SimEvent[] = [];
  outcome: ActionOutcome = { applied: true, podId: -1, message: "reset" };
  step = 0;
}

class MutableStepResult implements StepResult {
  obs: Float32Array;
  reward = 0;
  terminated = false;
  truncated = false;
  info: MutableInfo;
  constructor(obs: Float32Array, info: MutableInfo) {
    this.obs = obs;
    this.info = info;
  }
}

const RESET_OUTCOME: ActionOutcome = Object.freeze({ applied: true, podId: -1, message: "reset" });
const NO_FAULTS: readonly FaultInjection[] = Object.freeze([]);

export class SimEnv {
  private config: SimEnvConfig | null = null;
  private resolved: Resolved | null = null;
  private st: SimState | null = null;
  private schedule: readonly FaultInjection[] = [];
  private readonly timeline = new FaultTimeline();
  private episodeSteps = 0;
  private limits: ReplicaLimits = { minReplicas: 1, maxReplicas: 1 };
  private codec: CodecContext = { maxReplicas: 1, episodeSeconds: 1 };
  private rewardFn: RewardFn = rewards.seed;
  private readonly prev: Snapshot = createSnapshot();
  private readonly obsBuf = new Float32Array(OBS_V1.dim);
  private readonly info = new MutableInfo();
  private readonly result = new MutableStepResult(this.obsBuf, this.info);
  private readonly resetResult: ResetResult = { obs: this.obsBuf, info: this.info };
  private done = true;

  /** The simulator state (for inspection and tests; do not mutate). */
  get state(): SimState {
    if (this.st === null) throw new Error("SimEnv: call reset() before reading the state");
    return this.st;
  }

  /** The fault schedule of the current episode, sorted by time. */
  get faultSchedule(): readonly FaultInjection[] {
    return this.schedule;
  }

  /** The codec context of `obs` (maxReplicas, episode seconds). */
  get codecContext(): CodecContext {
    return this.codec;
  }

  /**
   * Starts an episode for `seed` (an integer; its low 32 bits count). `config` defaults to
   * the previous reset's (or to all defaults); it is validated once per distinct config
   * object, so pass the same object on every reset.
   */
  reset(seed: number, config?: SimEnvConfig): ResetResult {
    if (!Number.isInteger(seed)) {
      throw new Error(`Expected \`seed\` to be an integer, got \`${String(seed)}\` (${typeof seed})`);
    }
    const cfg = config ?? this.config ?? {};
    if (cfg !== this.config || this.resolved === null) {
      const r = resolve(cfg);
      const old = this.resolved;
      this.resolved = r;
      this.config = cfg;
      if (this.st === null || old === null || this.st.params !== r.params || this.st.workload !== r.workload) {
        this.st = new SimState(r.params, r.workload);
      }
      const p = r.params;
      this.episodeSteps = p.episodeSteps;
      this.limits = { minReplicas: p.minReplicas, maxReplicas: p.maxReplicas };
      this.codec = { maxReplicas: p.maxReplicas, episodeSeconds: p.episodeSteps * p.stepSeconds };
      this.rewardFn = r.reward;
    }
    const r = this.resolved;
    const rngs = streamRngs(seed);
    const s = resetState(this.st as SimState, seed, rngs);
    if (r.schedule !== null) {
      this.schedule = r.schedule;
    } else if (r.faults !== null && r.frequency !== null) {
      this.schedule = scheduleFrom(r.faults, r.frequency, this.codec.episodeSeconds, rngs.schedule, r.inject);
    } else {
      this.schedule = NO_FAULTS;
    }
    this.timeline.reset(this.schedule);
    this.done = false;

    const info = this.info;
    observe(s, info.snapshot);
    copySnapshotScalars(info.snapshot, this.prev);
    info.events = s.events.items;
    info.outcome = RESET_OUTCOME;
    info.step = 0;
    encodeObsV1(info.snapshot, this.codec, this.obsBuf);
    return this.resetResult;
  }

  /** Advances one step with `action`. See the file comment for what is reused. */
  step(action: Action): StepResult {
    if (this.done) throw new Error("SimEnv: step() called after the episode ended (or before reset()); call reset()");
    if (!isAction(action)) {
      throw new Error(`Expected \`action\` to be an integer in 0..4, got \`${String(action)}\` (${typeof action})`);
    }
    const s = this.st as SimState;
    s.events.clear();
    const info = this.info;
    info.outcome = applyAction(s, action);
    this.applySchedule(s);
    advance(s);
    const snap = observe(s, info.snapshot);
    const res = this.result;
    res.reward = this.rewardFn(this.prev, snap, action, this.limits);
    copySnapshotScalars(snap, this.prev);
    encodeObsV1(snap, this.codec, this.obsBuf);
    res.terminated = s.serving === 0;
    res.truncated = s.step >= this.episodeSteps;
    this.done = res.terminated || res.truncated;
    info.step = s.step;
    return res;
  }

  /** Clears the faults whose duration has run out and injects those whose time has come. */
  private applySchedule(s: SimState): void {
    const now = s.time;
    const timeline = this.timeline;
    for (let f = timeline.nextClear(now); f !== null; f = timeline.nextClear(now)) clearFault(s, f.id);
    for (let f = timeline.nextDue(now); f !== null; f = timeline.nextDue(now)) {
      injectFault(s, f);
      timeline.injected(f, now);
    }
  }
}
