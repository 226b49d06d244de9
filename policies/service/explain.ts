/**
 * Why did the model decide that? Exact Shapley values of the 9 `obs-v1` features for the
 * probability of the chosen action. With 9 features there are 2^9 = 512 coalitions; each is
 * the state with the coalition's features taken from `x` and the others from a background
 * state, so one batched model run of 512 x (background rows) states gives every v(S):
 *
 *   v(S)   = mean over background rows b of p(a | x_S, b_rest)
 *   phi_i  = sum over S without i of |S|! (n - |S| - 1)! / n! * (v(S + i) - v(S))
 *
 * By Shapley's efficiency the attributions sum to v(all) - v(none) = p(a | x) - mean_b
 * p(a | b): how far this state moves the decision from the background's. The background is
 * stated with every answer; the default is one healthy steady state (below).
 */
import { ACTION_COUNT, ACTION_NAMES, OBS_V1 } from "../../harness/core/contract.ts";
import type { OnnxPolicyModel } from "../onnx-model.ts";

/**
 * The default background: a healthy steady state (3 of 10 replicas, all healthy, CPU and
 * memory at 30%, 50 ms latency, no errors, the last failure an episode ago).
 */
export const HEALTHY_BACKGROUND: readonly (readonly number[])[] = [[0.3, 0, 0, 0.3, 0.3, 0.05, 0, 1, 0.3]];

export interface Attribution {
  readonly feature: string;
  readonly index: number;
  readonly value: number;
  readonly phi: number;
}

export interface Explanation {
  readonly action: number;
  readonly actionName: (typeof ACTION_NAMES)[number];
  /** p(action | state). */
  readonly output: number;
  /** Mean p(action | b) over the background: the attributions sum to output - base. */
  readonly base: number;
  /** One per feature, in codec order. */
  readonly attributions: readonly Attribution[];
  readonly background: readonly (readonly number[])[];
}

const N = OBS_V1.dim;
const COALITIONS = 1 << N;

/** |S|! (n - |S| - 1)! / n! for |S| = 0..n-1. */
const WEIGHTS = (() => {
  const fact = [1];
  for (let k = 1; k <= N; k++) fact.push(fact[k - 1]! * k);
  return Array.from({ length: N }, (_, s) => (fact[s]! * fact[N - s - 1]!) / fact[N]!);
})();

const popcount = (m: number) => {
  let c = 0;
  for (let x = m; x !== 0; x &= x - 1) c++;
  return c;
};

export async function explain(
  model: OnnxPolicyModel,
  state: readonly number[],
  background: readonly (readonly number[])[] = HEALTHY_BACKGROUND,
): Promise<Explanation> {
  const B = background.length;
  const rows = COALITIONS * B;
  const batch = new Float32Array(rows * N);
  for (let m = 0; m < COALITIONS; m++) {
    for (let b = 0; b < B; b++) {
      const base = (m * B + b) * N;
      for (let j = 0; j < N; j++) batch[base + j] = (m >> j) & 1 ? state[j]! : background[b]![j]!;
    }
  }
  const out = await model.decideBatch(batch, rows);
  if (out.probs === null) throw new Error(`${model.file}: the model has no action probabilities to attribute`);
  // The decision is the full coalition's (the state itself), on its first background row.
  const action = out.actions[(COALITIONS - 1) * B]!;
  const v = new Float64Array(COALITIONS);
  for (let m = 0; m < COALITIONS; m++) {
    let sum = 0;
    for (let b = 0; b < B; b++) sum += out.probs[(m * B + b) * ACTION_COUNT + action]!;
    v[m] = sum / B;
  }
  const attributions: Attribution[] = [];
  for (let i = 0; i < N; i++) {
    let phi = 0;
    const bit = 1 << i;
    for (let m = 0; m < COALITIONS; m++) {
      if (m & bit) continue;
      phi += WEIGHTS[popcount(m)]! * (v[m | bit]! - v[m]!);
    }
    attributions.push({ feature: OBS_V1.features[i]!, index: i, value: state[i]!, phi });
  }
  return {
    action,
    actionName: ACTION_NAMES[action]!,
    output: v[COALITIONS - 1]!,
    base: v[0]!,
    attributions,
    background,
  };
}
