/**
 * PPO (Schulman et al. 2017, "Proximal Policy Optimization Algorithms"), clipped-surrogate
 * variant with GAE, in the shape of cleanrl's `ppo.py`: one options object
 * (options.ts), sizes derived once, then for each update
 *
 *   1. collect a rollout: run pi_old in nEnvs simulators for nSteps steps (guarded actions),
 *   2. compute advantages with GAE(gamma, lambda) and value targets,
 *   3. optimise the clipped surrogate + value loss - entropy bonus for nEpochs epochs of
 *      minibatch Adam steps (gradient norm clipped), advantages normalised per minibatch,
 *
 * and report the update's metrics. `b`-prefixed buffers hold the whole rollout (cleanrl's
 * `b_obs`, `b_logprobs` ...), `mb`-prefixed ones one minibatch. Observations are the
 * options' `codec` (obs-v1's 9 floats by default, obs-v2's 25), and so is the network's input.
 *
 * Determinism: weights, sampling and shuffles draw from one seeded pure-rand stream; the
 * environments from their episode seeds; the hand-written engine is plain float32
 * arithmetic in a fixed order. Same options, same seed: the same curve, bit for bit, and a
 * run resumed from a checkpoint continues exactly as the uninterrupted run (checkpoint.ts).
 */
import { codecByName } from "../../harness/core/codecs.ts";
import { ACTION_COUNT } from "../../harness/core/contract.ts";
import { type AdamState, adamStep, clipGradNorm, createAdamState } from "./adam.ts";
import { computeGae } from "./gae.ts";
import { ParallelActorCritic } from "./grad-worker.ts";
import { initParams } from "./init.ts";
import {
  ActorCritic,
  emptyLossStats,
  type LossStats,
  type Minibatch,
  type MlpSpec,
  maskLogits,
  paramLayout,
} from "./mlp.ts";
import { RunningMeanStd } from "./obs-norm.ts";
import { type DerivedSizes, derivedSizes, type PpoOptions } from "./options.ts";
import { TrainRng } from "./rng.ts";
import { type EnvEpisodeState, VecEnv } from "./vec-env.ts";

/** The network's shape: the options' codec in (9 floats for obs-v1, 25 for obs-v2), one score per action out. */
export function mlpSpecFor(o: PpoOptions): MlpSpec {
  return { obsDim: codecByName(o.codec).dim, hidden: o.hidden, nActions: ACTION_COUNT };
}

/** What `train` reports after each update: the training curve, one point per update (a `training_updates` row). */
export interface UpdateMetrics {
  readonly update: number;
  readonly globalStep: number;
  /** Wall seconds since the run started (excluding time before a resume). */
  readonly wallTimeS: number;
  /** Env steps per second of this update, rollout and optimisation included. */
  readonly stepsPerS: number;
  readonly learningRate: number;
  /** Episodes finished during this update's rollout. */
  readonly episodes: number;
  /** Episode returns and lengths (null when no episode finished). */
  readonly epRewardMean: number | null;
  readonly epRewardMin: number | null;
  readonly epRewardMax: number | null;
  readonly epLengthMean: number | null;
  /** Share of rollout steps with the SLO held. */
  readonly sloHeldShare: number;
  /**
   * Mean time from a fault injection to the start of the first SLO-held run of 3 steps
   * after it, seconds (an approximation of the harness's recovery time); null when none.
   */
  readonly recoveryTimeMeanS: number | null;
  readonly recoveries: number;
  /** Mean desired replicas over the rollout (cost). */
  readonly replicasMean: number;
  /** Share of each action among the policy's proposals (by action id). */
  readonly actionShare: readonly number[];
  /** Share of each action among what the guard let through. */
  readonly executedShare: readonly number[];
  /** Share of steps where the guard refused a proposal. */
  readonly refusedShare: number;
  readonly policyLoss: number;
  readonly valueLoss: number;
  readonly entropy: number;
  readonly approxKl: number;
  readonly clipFrac: number;
  readonly explainedVariance: number;
  /** Epochs run (fewer than nEpochs when targetKl stopped the update). */
  readonly epochs: number;
}

/** The whole trainer state a checkpoint holds (checkpoint.ts serialises it). */
export interface TrainerState {
  readonly runId: string;
  readonly options: PpoOptions;
  readonly update: number;
  readonly globalStep: number;
  readonly wallTimeS: number;
  readonly params: Float32Array;
  readonly adam: AdamState;
  readonly rng: readonly number[];
  readonly obsNorm: ReturnType<RunningMeanStd["toJSON"]> | null;
  readonly envs: { episodeCounter: number; envs: EnvEpisodeState[] };
}

export interface TrainHooks {
  /** After each update; awaited (a slow sink slows training, it never reorders it). */
  onUpdate?(m: UpdateMetrics, trainer: PpoTrainer): void | Promise<void>;
  /** Stops training at the next update boundary (the state is then complete: checkpoint it). */
  readonly signal?: AbortSignal;
}

/** The engine interface both `ActorCritic` (js) and `TfActorCritic` (tfjs) implement. */
export interface Engine {
  readonly params: Float32Array;
  readonly logits: Float32Array;
  readonly probs: Float32Array;
  readonly values: Float32Array;
  forward(obs: Float32Array, n: number): void;
  lossAndGrad(
    mb: Minibatch,
    c: { clipCoef: number; entCoef: number; vfCoef: number },
    grad: Float32Array,
    stats: LossStats,
  ): void;
  /** Releases threads or tensors the engine holds. */
  close?(): Promise<void>;
}

/**
 * The gradient engine the options ask for: `js` on one thread or two (grad-worker.ts), or
 * `tfjs` (tfjs-node when installed, else wasm). Returns the engine and the tfjs backend
 * name when tfjs is used.
 */
export async function createEngine(o: PpoOptions): Promise<{ engine: Engine; tfBackend: string | null }> {
  const spec = mlpSpecFor(o);
  const maxBatch = Math.max(o.batchSize, o.nEnvs);
  if (o.engine === "tfjs") {
    const { initTf } = await import("./tf-backend.ts");
    const { TfActorCritic } = await import("./tf-model.ts");
    const tfBackend = await initTf();
    return { engine: new TfActorCritic(spec, maxBatch), tfBackend };
  }
  if (o.threads >= 2) return { engine: await ParallelActorCritic.create(spec, maxBatch), tfBackend: null };
  return { engine: new ActorCritic(spec, maxBatch), tfBackend: null };
}

export class PpoTrainer {
  readonly o: PpoOptions;
  readonly sizes: DerivedSizes;
  readonly spec: MlpSpec;
  readonly net: Engine;
  readonly vec: VecEnv;
  readonly rng: TrainRng;
  readonly adam: AdamState;
  readonly obsNorm: RunningMeanStd | null;
  runId: string;
  update = 0;
  globalStep = 0;
  /** Wall seconds trained before this process (resume). */
  wallBefore = 0;
  private readonly startedAt = performance.now();

  // Rollout buffers, [nSteps, nEnvs] (row t: every env at step t).
  private readonly bObs: Float32Array;
  private readonly bActions: Int32Array;
  private readonly bLogProbs: Float32Array;
  private readonly bRewards: Float32Array;
  private readonly bValues: Float32Array;
  private readonly bStarts: Uint8Array;
  /** [nSteps * nEnvs, nActions] action masks (actionMask: guard; else null). */
  private readonly bMasks: Uint8Array | null;
  private readonly bAdvantages: Float32Array;
  private readonly bReturns: Float32Array;
  private readonly bInds: Int32Array;
  // Minibatch buffers.
  private readonly mb: {
    n: number;
    obs: Float32Array;
    actions: Int32Array;
    logProbs: Float32Array;
    advantages: Float32Array;
    returns: Float32Array;
    masks: Uint8Array | null;
  };
  private readonly grad: Float32Array;
  /** The network's input for the current observations (normalised when normObs). */
  private readonly netObs: Float32Array;
  private readonly starts: Uint8Array;
  private readonly actions: Int32Array;
  /** The envs' current action masks, [nEnvs, nActions] (null without actionMask). */
  private readonly masks: Uint8Array | null;
  private readonly lastValues: Float32Array;
  private readonly scratchObs: Float32Array;

  constructor(options: PpoOptions, engine: Engine | null, runId: string) {
    const o = options;
    this.o = o;
    this.runId = runId;
    this.sizes = derivedSizes(o);
    this.spec = mlpSpecFor(o);
    this.rng = new TrainRng(o.seed);
    const N = o.nEnvs;
    const D = this.spec.obsDim;
    this.net = engine ?? new ActorCritic(this.spec, Math.max(o.batchSize, N));
    initParams(this.net.params, paramLayout(this.spec), this.rng);
    this.adam = createAdamState(this.net.params.length);
    this.obsNorm = o.normObs ? new RunningMeanStd(D) : null;
    this.vec = new VecEnv(o);
    const T = this.sizes.rolloutSize;
    this.bObs = new Float32Array(T * D);
    this.bActions = new Int32Array(T);
    this.bLogProbs = new Float32Array(T);
    this.bRewards = new Float32Array(T);
    this.bValues = new Float32Array(T);
    this.bStarts = new Uint8Array(T);
    const masked = o.actionMask === "guard";
    this.bMasks = masked ? new Uint8Array(T * ACTION_COUNT) : null;
    this.bAdvantages = new Float32Array(T);
    this.bReturns = new Float32Array(T);
    this.bInds = new Int32Array(T);
    const B = o.batchSize;
    this.mb = {
      n: B,
      obs: new Float32Array(B * D),
      actions: new Int32Array(B),
      logProbs: new Float32Array(B),
      advantages: new Float32Array(B),
      returns: new Float32Array(B),
      masks: masked ? new Uint8Array(B * ACTION_COUNT) : null,
    };
    this.grad = new Float32Array(this.net.params.length);
    this.netObs = new Float32Array(N * D);
    this.starts = new Uint8Array(N).fill(1);
    this.actions = new Int32Array(N);
    this.masks = masked ? new Uint8Array(N * ACTION_COUNT) : null;
    this.lastValues = new Float32Array(N);
    this.scratchObs = new Float32Array(N * D);
    this.vec.resetAll();
    this.observe(true);
  }

  /** Normalises the envs' current observations into the network input (updating the statistics first when `update`). */
  private observe(update: boolean): void {
    const N = this.o.nEnvs;
    if (this.obsNorm === null) {
      this.netObs.set(this.vec.obs);
      return;
    }
    if (update) this.obsNorm.update(this.vec.obs, N);
    this.obsNorm.normalize(this.vec.obs, N, this.o.obsClip, this.netObs);
  }

  /** The learning rate of update `u` (1-based): linearly annealed to 0 when annealLr. */
  learningRateAt(u: number): number {
    if (!this.o.annealLr) return this.o.learningRate;
    return (1 - (u - 1) / this.sizes.numUpdates) * this.o.learningRate;
  }

  /** Runs one update (rollout, GAE, optimisation) and returns its metrics. */
  runUpdate(): UpdateMetrics {
    const t0 = performance.now();
    this.update++;
    const lr = this.learningRateAt(this.update);
    this.vec.clearStats();
    this.collectRollout();
    this.computeAdvantages();
    const opt = this.optimise(lr);
    this.globalStep += this.sizes.rolloutSize;
    const dt = (performance.now() - t0) / 1000;
    return this.metrics(lr, dt, opt);
  }

  /** 1. Run pi_old for nSteps in every env, storing what the update needs. */
  private collectRollout(): void {
    const { nEnvs: N, nSteps, gamma } = this.o;
    const D = this.spec.obsDim;
    const A = ACTION_COUNT;
    const net = this.net;
    const vec = this.vec;
    for (let t = 0; t < nSteps; t++) {
      const row = t * N;
      this.bObs.set(this.netObs, row * D);
      this.bStarts.set(this.starts, row);
      net.forward(this.netObs, N);
      if (this.masks !== null) {
        // Sample among what the guard's limits allow now; the minibatch loss sees the same mask.
        vec.fillMasks(this.masks);
        this.bMasks!.set(this.masks, row * A);
        maskLogits(net.logits, net.probs, this.masks, N, A);
      }
      for (let e = 0; e < N; e++) {
        // Sample a ~ pi(.|s) by inverting the CDF; log pi(a|s) from the logits (stable).
        const o = e * A;
        const u = this.rng.uniform();
        let a = A - 1;
        let cdf = 0;
        for (let k = 0; k < A; k++) {
          cdf += net.probs[o + k];
          if (u < cdf) {
            a = k;
            break;
          }
        }
        this.actions[e] = a;
        this.bActions[row + e] = a;
        this.bLogProbs[row + e] = logProb(net.logits, o, A, a);
        this.bValues[row + e] = net.values[e];
      }
      vec.step(this.actions);
      for (let e = 0; e < N; e++) this.bRewards[row + e] = vec.rewards[e];
      this.bootstrapTruncated(row, gamma);
      this.starts.set(vec.dones);
      this.observe(true);
    }
    net.forward(this.netObs, N);
    this.lastValues.set(net.values.subarray(0, N));
  }

  /**
   * A time-limit truncation is not a terminal state: add gamma * V(final observation) to
   * the last reward (SB3's handling), so GAE, which cuts at every episode end, keeps it.
   */
  private bootstrapTruncated(row: number, gamma: number): void {
    const vec = this.vec;
    const N = this.o.nEnvs;
    const D = this.spec.obsDim;
    let k = 0;
    for (let e = 0; e < N; e++) {
      if (vec.truncated[e] === 1) this.scratchObs.set(vec.finalObs.subarray(e * D, (e + 1) * D), k++ * D);
    }
    if (k === 0) return;
    if (this.obsNorm !== null) this.obsNorm.normalize(this.scratchObs, k, this.o.obsClip, this.scratchObs);
    this.net.forward(this.scratchObs, k);
    k = 0;
    for (let e = 0; e < N; e++) {
      if (vec.truncated[e] === 1) this.bRewards[row + e] += gamma * this.net.values[k++];
    }
  }

  /** 2. GAE advantages and value targets. */
  private computeAdvantages(): void {
    computeGae(
      {
        nSteps: this.o.nSteps,
        nEnvs: this.o.nEnvs,
        gamma: this.o.gamma,
        gaeLambda: this.o.gaeLambda,
        rewards: this.bRewards,
        values: this.bValues,
        episodeStarts: this.bStarts,
        lastValues: this.lastValues,
        lastEpisodeStarts: this.starts,
      },
      this.bAdvantages,
      this.bReturns,
    );
  }

  /** 3. nEpochs passes of shuffled minibatches over the rollout. */
  private optimise(lr: number): { stats: LossStats; epochs: number } {
    const o = this.o;
    const D = this.spec.obsDim;
    const A = ACTION_COUNT;
    const B = o.batchSize;
    const mb = this.mb;
    const sum = emptyLossStats();
    const st = emptyLossStats();
    const coefs = { clipCoef: o.clipCoef, entCoef: o.entCoef, vfCoef: o.vfCoef };
    const hyper = { lr, beta1: 0.9, beta2: 0.999, eps: o.adamEps };
    const bInds = this.bInds;
    for (let i = 0; i < bInds.length; i++) bInds[i] = i;
    let count = 0;
    let epochs = 0;
    for (let epoch = 0; epoch < o.nEpochs; epoch++) {
      this.rng.shuffle(bInds);
      let klSum = 0;
      let klCount = 0;
      for (let start = 0; start < bInds.length; start += B) {
        // Gather the minibatch rows.
        for (let j = 0; j < B; j++) {
          const i = bInds[start + j];
          for (let d = 0; d < D; d++) mb.obs[j * D + d] = this.bObs[i * D + d];
          mb.actions[j] = this.bActions[i];
          mb.logProbs[j] = this.bLogProbs[i];
          mb.advantages[j] = this.bAdvantages[i];
          mb.returns[j] = this.bReturns[i];
          if (mb.masks !== null) for (let k = 0; k < A; k++) mb.masks[j * A + k] = this.bMasks![i * A + k]!;
        }
        if (o.normAdv) normalizeAdvantages(mb.advantages, B);
        this.net.lossAndGrad(mb, coefs, this.grad, st);
        clipGradNorm(this.grad, o.maxGradNorm);
        adamStep(this.net.params, this.grad, this.adam, hyper);
        sum.pgLoss += st.pgLoss;
        sum.vLoss += st.vLoss;
        sum.entropy += st.entropy;
        sum.approxKl += st.approxKl;
        sum.clipFrac += st.clipFrac;
        sum.loss += st.loss;
        klSum += st.approxKl;
        klCount++;
        count++;
      }
      epochs++;
      if (o.targetKl !== null && klSum / klCount > o.targetKl) break;
    }
    const inv = 1 / count;
    return {
      stats: {
        pgLoss: sum.pgLoss * inv,
        vLoss: sum.vLoss * inv,
        entropy: sum.entropy * inv,
        approxKl: sum.approxKl * inv,
        clipFrac: sum.clipFrac * inv,
        loss: sum.loss * inv,
      },
      epochs,
    };
  }

  private metrics(lr: number, dt: number, opt: { stats: LossStats; epochs: number }): UpdateMetrics {
    const vec = this.vec;
    const eps = vec.finished;
    const returns = eps.map((e) => e.return);
    const steps = vec.steps;
    const share = (c: Float64Array) => Array.from(c, (x) => x / steps);
    return {
      update: this.update,
      globalStep: this.globalStep,
      wallTimeS: this.wallBefore + this.wallSinceStart(),
      stepsPerS: this.sizes.rolloutSize / dt,
      learningRate: lr,
      episodes: eps.length,
      epRewardMean: eps.length ? mean(returns) : null,
      epRewardMin: eps.length ? Math.min(...returns) : null,
      epRewardMax: eps.length ? Math.max(...returns) : null,
      epLengthMean: eps.length ? mean(eps.map((e) => e.length)) : null,
      sloHeldShare: vec.sloHeldSteps / steps,
      recoveryTimeMeanS: vec.recoveries.length ? mean(vec.recoveries) : null,
      recoveries: vec.recoveries.length,
      replicasMean: vec.replicaSum / steps,
      actionShare: share(vec.proposedCounts),
      executedShare: share(vec.executedCounts),
      refusedShare: vec.refused / steps,
      policyLoss: opt.stats.pgLoss,
      valueLoss: opt.stats.vLoss,
      entropy: opt.stats.entropy,
      approxKl: opt.stats.approxKl,
      clipFrac: opt.stats.clipFrac,
      explainedVariance: explainedVariance(this.bValues, this.bReturns),
      epochs: opt.epochs,
    };
  }

  private wallSinceStart(): number {
    return (performance.now() - this.startedAt) / 1000;
  }

  /** Releases the engine (its worker thread, if any). */
  async close(): Promise<void> {
    await this.net.close?.();
  }

  /** Everything needed to continue exactly where this trainer is (between updates). */
  state(): TrainerState {
    return {
      runId: this.runId,
      options: this.o,
      update: this.update,
      globalStep: this.globalStep,
      wallTimeS: this.wallBefore + this.wallSinceStart(),
      params: this.net.params,
      adam: this.adam,
      rng: this.rng.getState(),
      obsNorm: this.obsNorm?.toJSON() ?? null,
      envs: this.vec.snapshotState(),
    };
  }

  /** Continues from a saved state (the options must be the state's). */
  restore(s: TrainerState): void {
    if (s.params.length !== this.net.params.length) {
      throw new Error(`Expected ${this.net.params.length} parameters in the checkpoint, got ${s.params.length}`);
    }
    this.runId = s.runId;
    this.update = s.update;
    this.globalStep = s.globalStep;
    this.wallBefore = s.wallTimeS;
    this.net.params.set(s.params);
    this.adam.m.set(s.adam.m);
    this.adam.v.set(s.adam.v);
    this.adam.t = s.adam.t;
    this.rng.setState(s.rng);
    if (this.obsNorm !== null) {
      if (s.obsNorm === null) throw new Error("Expected observation statistics in the checkpoint (normObs is on)");
      const r = RunningMeanStd.fromJSON(s.obsNorm);
      this.obsNorm.mean.set(r.mean);
      this.obsNorm.var.set(r.var);
      this.obsNorm.count = r.count;
    }
    this.vec.restoreState(s.envs);
    // An observation is an episode's first exactly when no step of it has run yet.
    for (let e = 0; e < this.o.nEnvs; e++) this.starts[e] = this.vec.state[e].length === 0 ? 1 : 0;
    this.observe(false);
  }
}

/** log pi(a|s) = logit_a - logsumexp(logits), in double precision. */
export function logProb(logits: Float32Array, o: number, A: number, a: number): number {
  let m = logits[o];
  for (let k = 1; k < A; k++) if (logits[o + k] > m) m = logits[o + k];
  let z = 0;
  for (let k = 0; k < A; k++) z += Math.exp(logits[o + k] - m);
  return logits[o + a] - m - Math.log(z);
}

/** (adv - mean) / (std + 1e-8), std unbiased as torch's `Tensor.std()` (cleanrl, SB3). */
export function normalizeAdvantages(adv: Float32Array, n: number): void {
  let s = 0;
  for (let i = 0; i < n; i++) s += adv[i];
  const m = s / n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (adv[i] - m) * (adv[i] - m);
  const std = n > 1 ? Math.sqrt(v / (n - 1)) : 0;
  const inv = 1 / (std + 1e-8);
  for (let i = 0; i < n; i++) adv[i] = (adv[i] - m) * inv;
}

/** 1 - Var(returns - values) / Var(returns): how much of the return the critic explains. */
export function explainedVariance(values: Float32Array, returns: Float32Array): number {
  const n = values.length;
  let mr = 0;
  let md = 0;
  for (let i = 0; i < n; i++) {
    mr += returns[i];
    md += returns[i] - values[i];
  }
  mr /= n;
  md /= n;
  let vr = 0;
  let vd = 0;
  for (let i = 0; i < n; i++) {
    vr += (returns[i] - mr) ** 2;
    const d = returns[i] - values[i] - md;
    vd += d * d;
  }
  return vr === 0 ? Number.NaN : 1 - vd / vr;
}

function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** A run id: `ppo-s<seed>-<UTC timestamp>`. */
export function newRunId(seed: number, now = new Date()): string {
  return `ppo-s${seed}-${now.toISOString().replace(/[-:]/g, "").replace(/\..*/, "")}`;
}

/**
 * Trains until `totalTimesteps` (whole updates) or until `hooks.signal` aborts, calling
 * `hooks.onUpdate` after each update. Returns the trainer (its state is complete between
 * updates: checkpoint or export it).
 */
export async function train(trainer: PpoTrainer, hooks: TrainHooks = {}): Promise<PpoTrainer> {
  while (trainer.update < trainer.sizes.numUpdates) {
    if (hooks.signal?.aborted) break;
    const m = trainer.runUpdate();
    await hooks.onUpdate?.(m, trainer);
  }
  return trainer;
}
