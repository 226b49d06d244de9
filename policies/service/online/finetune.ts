/**
 * Fine-tuning a copy of the served policy on transitions it recorded, with the project's PPO
 * pieces (policies/ppo: the same network, clipped-surrogate loss and gradient, gradient-norm
 * clipping, Adam, advantage normalisation, seeded shuffles):
 *
 *   1. the served weights and observation statistics are read back from its ONNX file
 *      (importOnnx); the statistics stay fixed, so the copy reads states as the original did;
 *   2. pi_old is the served policy itself: log pi_old(a|s) and V(s), V(s') from its weights
 *      (the transitions were acted on by it, so the PPO ratio starts at 1);
 *   3. GAE over the transitions in the order received, cut at `done` and wherever a
 *      transition's next state is not the following one's state (a gap between batches),
 *      bootstrapping from V(s') there;
 *   4. `epochs` passes of shuffled minibatch steps on the clipped surrogate + value loss -
 *      entropy bonus.
 *
 * Pure computation on arrays: the worker (job.ts) runs it off the service's event loop.
 */
import { ACTION_COUNT } from "../../../harness/core/contract.ts";
import { adamStep, clipGradNorm, createAdamState } from "../../ppo/adam.ts";
import { ActorCritic, emptyLossStats, type LossStats } from "../../ppo/mlp.ts";
import { OBS_NORM_EPS } from "../../ppo/obs-norm.ts";
import type { ExportInput } from "../../ppo/onnx-export.ts";
import { TrainRng } from "../../ppo/rng.ts";
import { logProb, normalizeAdvantages } from "../../ppo/train.ts";
import type { Transition } from "../schemas.ts";

export interface FineTuneOptions {
  /** Passes over the transitions. @default 4 */
  readonly epochs: number;
  /** Minibatch size (the whole set when smaller). @default 64 */
  readonly batchSize: number;
  /** Adam step size; small, as the copy should move little from a policy that works. @default 1e-4 */
  readonly learningRate: number;
  readonly clipCoef: number;
  readonly entCoef: number;
  readonly vfCoef: number;
  readonly maxGradNorm: number;
  readonly gamma: number;
  readonly gaeLambda: number;
  /** Seeds the minibatch shuffles. @default 1 */
  readonly seed: number;
}

export const DEFAULT_FINE_TUNE: FineTuneOptions = {
  epochs: 4,
  batchSize: 64,
  learningRate: 1e-4,
  clipCoef: 0.2,
  entCoef: 0.01,
  vfCoef: 0.5,
  maxGradNorm: 0.5,
  gamma: 0.99,
  gaeLambda: 0.95,
  seed: 1,
};

export interface FineTuneStats {
  readonly transitions: number;
  readonly minibatchSteps: number;
  /** Means over the minibatch steps. */
  readonly policyLoss: number;
  readonly valueLoss: number;
  readonly entropy: number;
  readonly approxKl: number;
  readonly clipFrac: number;
}

/** Normalised, clipped observations as the served graph computes them (none without statistics). */
function normalise(base: ExportInput, rows: readonly (readonly number[])[]): Float32Array {
  const D = base.spec.obsDim;
  const out = new Float32Array(rows.length * D);
  rows.forEach((row, i) => {
    for (let j = 0; j < D; j++) {
      if (base.obsNorm === null) {
        out[i * D + j] = row[j]!;
        continue;
      }
      const z = (row[j]! - base.obsNorm.mean[j]!) / Math.sqrt(base.obsNorm.var[j]! + OBS_NORM_EPS);
      out[i * D + j] = Math.min(base.obsClip, Math.max(-base.obsClip, z));
    }
  });
  return out;
}

const sameState = (a: readonly number[], b: readonly number[]) => a.every((x, j) => x === b[j]);

/** Returns new parameters (the base's are not touched) and what the updates did. */
export function fineTune(
  base: ExportInput,
  transitions: readonly Transition[],
  o: FineTuneOptions = DEFAULT_FINE_TUNE,
): { params: Float32Array; stats: FineTuneStats } {
  const T = transitions.length;
  if (T === 0) throw new Error("Expected at least one transition to fine-tune on, got none");
  const D = base.spec.obsDim;
  const A = ACTION_COUNT;
  const net = new ActorCritic(base.spec, Math.max(T, o.batchSize), Float32Array.from(base.params));
  const obs = normalise(
    base,
    transitions.map((t) => t.state),
  );
  const nextObs = normalise(
    base,
    transitions.map((t) => t.nextState),
  );

  // 2. pi_old and the critic's values, from the served weights.
  const oldLogp = new Float32Array(T);
  const values = new Float32Array(T);
  const nextValues = new Float32Array(T);
  net.forward(nextObs, T);
  nextValues.set(net.values.subarray(0, T));
  net.forward(obs, T);
  values.set(net.values.subarray(0, T));
  for (let t = 0; t < T; t++) oldLogp[t] = logProb(net.logits, t * A, A, transitions[t]!.action);

  // 3. GAE, cut at episode ends and at gaps.
  const adv = new Float32Array(T);
  const ret = new Float32Array(T);
  let next = 0;
  for (let t = T - 1; t >= 0; t--) {
    const tr = transitions[t]!;
    const alive = tr.done ? 0 : 1;
    const linked = t + 1 < T && sameState(tr.nextState, transitions[t + 1]!.state) ? 1 : 0;
    const delta = tr.reward + o.gamma * nextValues[t]! * alive - values[t]!;
    next = delta + o.gamma * o.gaeLambda * alive * linked * next;
    adv[t] = next;
    ret[t] = next + values[t]!;
  }

  // 4. Minibatch steps on the clipped surrogate.
  const B = Math.min(o.batchSize, T);
  const mb = {
    n: B,
    obs: new Float32Array(B * D),
    actions: new Int32Array(B),
    logProbs: new Float32Array(B),
    advantages: new Float32Array(B),
    returns: new Float32Array(B),
  };
  const adam = createAdamState(net.params.length);
  const grad = new Float32Array(net.params.length);
  const rng = new TrainRng(o.seed);
  const inds = Int32Array.from({ length: T }, (_, i) => i);
  const coefs = { clipCoef: o.clipCoef, entCoef: o.entCoef, vfCoef: o.vfCoef };
  const hyper = { lr: o.learningRate, beta1: 0.9, beta2: 0.999, eps: 1e-5 };
  const sum = emptyLossStats();
  const st: LossStats = emptyLossStats();
  let steps = 0;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    rng.shuffle(inds);
    // Whole minibatches only (as the trainer): the last T mod B rows sit out this epoch.
    for (let start = 0; start + B <= T; start += B) {
      for (let j = 0; j < B; j++) {
        const i = inds[start + j]!;
        mb.obs.set(obs.subarray(i * D, (i + 1) * D), j * D);
        mb.actions[j] = transitions[i]!.action;
        mb.logProbs[j] = oldLogp[i]!;
        mb.advantages[j] = adv[i]!;
        mb.returns[j] = ret[i]!;
      }
      if (B > 1) normalizeAdvantages(mb.advantages, B);
      net.lossAndGrad(mb, coefs, grad, st);
      clipGradNorm(grad, o.maxGradNorm);
      adamStep(net.params, grad, adam, hyper);
      sum.pgLoss += st.pgLoss;
      sum.vLoss += st.vLoss;
      sum.entropy += st.entropy;
      sum.approxKl += st.approxKl;
      sum.clipFrac += st.clipFrac;
      steps++;
    }
  }
  const mean = (x: number) => (steps === 0 ? 0 : x / steps);
  return {
    params: net.params,
    stats: {
      transitions: T,
      minibatchSteps: steps,
      policyLoss: mean(sum.pgLoss),
      valueLoss: mean(sum.vLoss),
      entropy: mean(sum.entropy),
      approxKl: mean(sum.approxKl),
      clipFrac: mean(sum.clipFrac),
    },
  };
}
