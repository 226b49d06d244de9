/**
 * Vectorised training environments: `nEnvs` simulators stepped together (SB3's
 * `DummyVecEnv`), each action passed through the same guard as the controller loop
 * (harness/core/guard.ts), each episode drawn from the randomised training distribution on its
 * own training seed, with auto-reset.
 *
 * Training distribution (per episode, from its seed alone, so a seed names an episode):
 * a fault cell (each fault type alone, `combined`: each injection draws one of all six, or a
 * named cell of the options, whose `inject: all` injects all its faults at once),
 * a frequency (fixed or Poisson), a workload pattern. Episode k of a run uses seed
 * `trainingSeedStart + k` (1,000,000 upward by default), disjoint from the evaluation
 * scenarios' seeds (1..20), so the agent is never scored on an episode it trained on.
 * With `randomise` set, each episode also draws its own deployment, load, replica counts and
 * fault parameters on top of its cell, from the same seed (randomise.ts).
 *
 * Each env takes the controller loop's step (harness/core/step.ts): the guard judges the
 * proposal on the observation the policy saw, with the same context as the loop; SLO and
 * recovery tracking read the env's `stepSeconds` and the options' confirmation window.
 * The guard sees the env's virtual clock: a proposal it refuses (too soon after the last
 * action, replica limits) is executed as noop, as it would be on a cluster. PPO learns from
 * the proposed action (the policy's choice); the environment, guard included, decides
 * what happens.
 *
 * Observations are the options' codec (`codec`): obs-v1 is the simulator's own vector,
 * copied as before; any other codec (obs-v2) is encoded from the env's snapshot by a fresh
 * encoder per episode (its history starts empty, as the loop's does), with the episode's own
 * replica ceiling, length and per-pod capacity (randomised ones included).
 */
import { codecByName, OBS_V1_CODEC, type StateCodec, type StateEncoder } from "../../harness/core/codecs.ts";
import {
  ACTION_COUNT,
  Action,
  FAULT_TYPES,
  type FaultSpecInput,
  type Slo,
  type Snapshot,
  sloHolds,
} from "../../harness/core/contract.ts";
import { allowedActions, type GuardLimits, guard } from "../../harness/core/guard.ts";
import { mixSeed } from "../../harness/core/rng.ts";
import type { InjectMode } from "../../harness/core/schedule.ts";
import { createGuardContext, fillGuardContext, SloTracker } from "../../harness/core/step.ts";
import { SimEnv, type SimEnvConfig } from "../../sim/env.ts";
import type { PpoOptions, TrainingFault } from "./options.ts";
import { type Randomise, randomiseEpisode } from "./randomise.ts";

/** What one finished episode contributes to the training metrics. */
export interface EpisodeSummary {
  readonly seed: number;
  readonly scenario: string;
  readonly return: number;
  readonly length: number;
  readonly terminated: boolean;
}

/** Per-env running statistics of the current episode (plain data, for checkpoints). */
export interface EnvEpisodeState {
  seed: number;
  scenario: number;
  ret: number;
  length: number;
  lastActionAt: number | null;
  /** Time of the earliest fault injection not yet recovered from, or null. */
  pendingFaultAt: number | null;
  /** Consecutive observations with the SLO held (a recovery needs them to cover the confirmation window). */
  heldRun: number;
  /** Executed actions of the episode so far, for replay on resume. */
  executed: number[];
}

/** The scenario cells of the training distribution, in a fixed order. */
export interface TrainingScenario {
  readonly label: string;
  readonly config: SimEnvConfig;
}

export function trainingScenarios(o: PpoOptions): TrainingScenario[] {
  const out: TrainingScenario[] = [];
  for (const fault of o.faults) {
    for (const frequency of o.frequencies) {
      for (const pattern of o.workloads) {
        const cell = trainingCell(fault);
        const freq =
          frequency.kind === "fixed" ? `fixed-${frequency.intervalS}s` : `poisson-${frequency.meanIntervalS}s`;
        out.push({
          label: `${cell.label}|${freq}|${pattern}`,
          config: {
            params: {
              episodeSteps: o.episodeSteps,
              minReplicas: o.guard.minReplicas,
              maxReplicas: o.guard.maxReplicas,
            },
            workload: { pattern },
            faults: cell.faults,
            inject: cell.inject,
            frequency,
            reward: o.reward,
          },
        });
      }
    }
  }
  return out;
}

/** A training fault entry as a label, its fault specs and its injection mode. */
function trainingCell(fault: TrainingFault): { label: string; faults: FaultSpecInput[]; inject: InjectMode } {
  if (typeof fault === "object") return { label: fault.name, faults: [...fault.faults], inject: fault.inject };
  if (fault === "combined") return { label: fault, faults: FAULT_TYPES.map((type) => ({ type })), inject: "one" };
  return { label: fault, faults: [{ type: fault }], inject: "one" };
}

/** The scenario cell of an episode seed: a hash of the seed, uniform over the cells. */
export function scenarioIndexForSeed(seed: number, cells: number): number {
  return ((mixSeed(seed ^ 0x7a11) >>> 0) % cells) | 0;
}

export class VecEnv {
  readonly n: number;
  readonly envs: SimEnv[];
  readonly scenarios: TrainingScenario[];
  /** The codec of `obs` and `finalObs`. */
  readonly codec: StateCodec;
  /** Floats per observation: the codec's dimension. */
  readonly dim: number;
  /** Current observations [n, dim] (raw codec vectors). */
  readonly obs: Float32Array;
  /** After `step`: reward of the step, per env. */
  readonly rewards: Float32Array;
  /** After `step`: 1 when the episode ended (terminated or truncated) and the env was reset. */
  readonly dones: Uint8Array;
  readonly terminated: Uint8Array;
  readonly truncated: Uint8Array;
  /** After `step`: the last observation of an episode that ended (valid where `dones`). */
  readonly finalObs: Float32Array;
  /** Episode state per env. */
  readonly state: EnvEpisodeState[];
  /** Next episode number (episode k runs on seed trainingSeedStart + k). */
  episodeCounter = 0;

  // Metrics since the last `takeStats()`.
  readonly proposedCounts = new Float64Array(5);
  readonly executedCounts = new Float64Array(5);
  refused = 0;
  steps = 0;
  sloHeldSteps = 0;
  replicaSum = 0;
  readonly recoveries: number[] = [];
  readonly finished: EpisodeSummary[] = [];

  private readonly snaps: Snapshot[] = [];
  private readonly limits: GuardLimits;
  /** Guard limits per env: the episode's own replica ceiling when randomised. */
  private readonly envLimits: GuardLimits[];
  private readonly randomise: Randomise | null;
  private readonly slo: Slo;
  private readonly confirmWindowS: number;
  private readonly seedStart: number;
  private readonly trackers: SloTracker[] = [];
  private readonly guardContext = createGuardContext();
  private readonly proposal: { action: Action } = { action: Action.Noop };
  /** Per env, the episode's encoder; null for obs-v1, which the simulator encodes itself. */
  private readonly encoders: (StateEncoder | null)[] | null;
  /** Per env, its rows of `obs` and `finalObs` (made once: the step allocates nothing). */
  private readonly obsRows: Float32Array[] = [];
  private readonly finalRows: Float32Array[] = [];

  constructor(o: PpoOptions) {
    this.n = o.nEnvs;
    this.envs = Array.from({ length: this.n }, () => new SimEnv());
    this.scenarios = trainingScenarios(o);
    this.codec = codecByName(o.codec);
    this.dim = this.codec.dim;
    this.obs = new Float32Array(this.n * this.dim);
    this.finalObs = new Float32Array(this.n * this.dim);
    this.encoders = this.codec === OBS_V1_CODEC ? null : Array.from({ length: this.n }, () => null);
    if (this.encoders !== null) {
      for (let e = 0; e < this.n; e++) {
        this.obsRows.push(this.obs.subarray(e * this.dim, (e + 1) * this.dim));
        this.finalRows.push(this.finalObs.subarray(e * this.dim, (e + 1) * this.dim));
      }
    }
    this.rewards = new Float32Array(this.n);
    this.dones = new Uint8Array(this.n);
    this.terminated = new Uint8Array(this.n);
    this.truncated = new Uint8Array(this.n);
    this.limits = o.guard;
    this.envLimits = Array.from({ length: this.n }, () => o.guard);
    this.randomise = o.randomise;
    this.slo = { latencyMs: o.slo.latencyMs, errorRate: o.slo.errorRate };
    this.confirmWindowS = o.slo.confirmWindowS;
    this.seedStart = o.trainingSeedStart;
    this.state = Array.from({ length: this.n }, () => ({
      seed: 0,
      scenario: 0,
      ret: 0,
      length: 0,
      lastActionAt: null,
      pendingFaultAt: null,
      heldRun: 0,
      executed: [],
    }));
  }

  /** Starts an episode on every env (episode seeds in env order). */
  resetAll(): void {
    for (let e = 0; e < this.n; e++) this.startEpisode(e);
  }

  /** The simulator config of an episode (randomised from its seed when asked), setting env e's guard limits. */
  episodeConfig(e: number, seed: number, scenario: number): SimEnvConfig {
    const base = this.scenarios[scenario].config;
    if (this.randomise === null) {
      this.envLimits[e] = this.limits;
      return base;
    }
    const ep = randomiseEpisode(seed, base, this.limits, this.randomise);
    this.envLimits[e] = ep.limits;
    return ep.config;
  }

  private startEpisode(e: number): void {
    const seed = this.seedStart + this.episodeCounter++;
    const scenario = scenarioIndexForSeed(seed, this.scenarios.length);
    const r = this.envs[e].reset(seed, this.episodeConfig(e, seed, scenario));
    // The env's info snapshot is one reused object: it always holds the latest observation.
    this.snaps[e] = r.info.snapshot;
    this.trackerFor(e).reset();
    if (this.encoders === null) this.obs.set(r.obs, e * this.dim);
    else this.startEncoder(e).encode(r.info.snapshot, this.obsRows[e]!);
    const s = this.state[e];
    s.seed = seed;
    s.scenario = scenario;
    s.ret = 0;
    s.length = 0;
    s.lastActionAt = null;
    s.pendingFaultAt = null;
    s.heldRun = 0;
    s.executed.length = 0;
  }

  /**
   * Each env's action mask for its current observation, [nEnvs, 5] (1: the guard's limits
   * allow it), judged as `step` will judge a proposal: same snapshot, clock and limits.
   */
  fillMasks(out: Uint8Array): void {
    for (let e = 0; e < this.n; e++) {
      const snap = this.snaps[e]!;
      const ctx = fillGuardContext(this.guardContext, snap.time, snap, this.state[e]!.lastActionAt);
      allowedActions(ctx, this.envLimits[e]!, out, e * ACTION_COUNT);
    }
  }

  /**
   * Steps every env with its proposed action (through the guard), resetting the envs whose
   * episode ended; fills `rewards`, `dones`, `terminated`, `truncated`, `finalObs` and `obs`.
   */
  step(proposed: Int32Array): void {
    const D = this.dim;
    const encoders = this.encoders;
    for (let e = 0; e < this.n; e++) {
      const env = this.envs[e];
      const s = this.state[e];
      const a = proposed[e] as Action;
      // The guard decides from the observation the policy saw (the last step's snapshot).
      let executed: Action = a;
      if (a !== Action.Noop) {
        const snap = this.snaps[e];
        this.proposal.action = a;
        const g = guard(
          this.proposal,
          fillGuardContext(this.guardContext, snap.time, snap, s.lastActionAt),
          this.envLimits[e]!,
        );
        executed = g.action;
        if (executed === Action.Noop) this.refused++;
        else s.lastActionAt = snap.time;
      }
      this.proposedCounts[a]++;
      this.executedCounts[executed]++;
      s.executed.push(executed);
      const r = env.step(executed);
      this.rewards[e] = r.reward;
      s.ret += r.reward;
      s.length++;
      this.track(e, r.info.snapshot, r.info.events);
      this.terminated[e] = r.terminated ? 1 : 0;
      this.truncated[e] = r.truncated && !r.terminated ? 1 : 0;
      if (r.terminated || r.truncated) {
        this.dones[e] = 1;
        if (encoders === null) this.finalObs.set(r.obs, e * D);
        else encoders[e]!.encode(r.info.snapshot, this.finalRows[e]!);
        this.finished.push({
          seed: s.seed,
          scenario: this.scenarios[s.scenario].label,
          return: s.ret,
          length: s.length,
          terminated: r.terminated,
        });
        this.startEpisode(e);
      } else {
        this.dones[e] = 0;
        if (encoders === null) this.obs.set(r.obs, e * D);
        else encoders[e]!.encode(r.info.snapshot, this.obsRows[e]!);
      }
    }
  }

  /**
   * A fresh encoder for env e's episode (just reset): the episode's replica ceiling and
   * length (the env's codec context) and its pods' capacity (the simulator's parameter).
   */
  private startEncoder(e: number): StateEncoder {
    const env = this.envs[e]!;
    const enc = this.codec.create({ ...env.codecContext, podCapacityRps: env.state.params.podCapacityRps });
    this.encoders![e] = enc;
    return enc;
  }

  /** The env's SLO tracker, for the step and confirmation window of its episode's scenario. */
  private trackerFor(e: number): SloTracker {
    const stepSeconds = this.envs[e]!.state.params.stepSeconds;
    let t = this.trackers[e];
    if (t === undefined || t.stepSeconds !== stepSeconds) {
      t = new SloTracker(stepSeconds, this.confirmWindowS);
      this.trackers[e] = t;
    }
    return t;
  }

  /** SLO, cost and recovery bookkeeping of one step. */
  private track(e: number, snap: Snapshot, events: readonly { kind: string; time: number }[]): void {
    const s = this.state[e]!;
    const t = this.trackers[e]!;
    this.steps++;
    this.replicaSum += snap.desiredReplicas;
    for (const ev of events) {
      if (ev.kind === "fault-injected") t.faultInjected(ev.time);
    }
    const ok = sloHolds(snap, this.slo);
    if (ok) this.sloHeldSteps++;
    t.observe(snap.time, ok);
    if (t.faultRecoveryS >= 0) this.recoveries.push(t.faultRecoveryS);
    s.pendingFaultAt = t.pendingFaultAt;
    s.heldRun = t.heldSamples;
  }

  /** Clears the metrics gathered since the last call. */
  clearStats(): void {
    this.proposedCounts.fill(0);
    this.executedCounts.fill(0);
    this.refused = 0;
    this.steps = 0;
    this.sloHeldSteps = 0;
    this.replicaSum = 0;
    this.recoveries.length = 0;
    this.finished.length = 0;
  }

  /** The episode state of every env, as plain data (checkpoints). */
  snapshotState(): { episodeCounter: number; envs: EnvEpisodeState[] } {
    return {
      episodeCounter: this.episodeCounter,
      envs: this.state.map((s) => ({ ...s, executed: [...s.executed] })),
    };
  }

  /**
   * Restores a {@link snapshotState}: each env is reset on its episode's seed and replays the
   * episode's executed actions. The simulator is deterministic (same seed, same actions, same
   * trajectory: sim/check.ts), so this rebuilds every env bit for bit.
   */
  restoreState(saved: { episodeCounter: number; envs: EnvEpisodeState[] }): void {
    if (saved.envs.length !== this.n) {
      throw new Error(`Expected a checkpoint of ${this.n} envs, got ${saved.envs.length}`);
    }
    const D = this.dim;
    saved.envs.forEach((src, e) => {
      const env = this.envs[e];
      const r = env.reset(src.seed, this.episodeConfig(e, src.seed, src.scenario));
      this.snaps[e] = r.info.snapshot;
      // A history-keeping encoder sees the episode again from its start, as it did the first time.
      const enc = this.encoders === null ? null : this.startEncoder(e);
      enc?.encode(r.info.snapshot, this.obsRows[e]!);
      let obs = r.obs;
      for (const a of src.executed) {
        const st = env.step(a as Action);
        obs = st.obs;
        enc?.encode(st.info.snapshot, this.obsRows[e]!);
      }
      if (enc === null) this.obs.set(obs, e * D);
      Object.assign(this.state[e]!, { ...src, executed: [...src.executed] });
      this.trackerFor(e).restore(r.info.snapshot.time, src.heldRun, src.pendingFaultAt);
    });
    this.episodeCounter = saved.episodeCounter;
  }
}
