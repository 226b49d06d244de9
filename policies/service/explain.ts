/**
 * Why did the model decide that? Shapley values of the features of the model's codec for
 * the probability of the chosen action, against a stated background.
 *
 * obs-v1 (9 features) is exact: there are 2^9 = 512 coalitions; each is the state with the
 * coalition's features taken from `x` and the others from a background state, so one batched
 * model run of 512 x (background rows) states gives every v(S):
 *
 *   v(S)   = mean over background rows b of p(a | x_S, b_rest)
 *   phi_i  = sum over S without i of |S|! (n - |S| - 1)! / n! * (v(S + i) - v(S))
 *
 * Past {@link EXACT_MAX_FEATURES} features (obs-v2's 25: 2^25 coalitions) the values are
 * estimated by permutation sampling (Strumbelj and Kononenko 2014): for each of
 * {@link SAMPLED_PERMUTATIONS} seeded feature orders, the features are switched from the
 * background to `x` one at a time and each is credited with the change it makes. Each
 * order's credits sum to v(all) - v(none), so the estimate keeps Shapley's efficiency
 * exactly, and a feature equal in the state and every background row gets exactly 0; the
 * same state and background always give the same values (fixed seed).
 *
 * By efficiency the attributions sum to v(all) - v(none) = p(a | x) - mean_b p(a | b): how
 * far this state moves the decision from the background's. The background is stated with
 * every answer; the default is one healthy steady state of the model's codec (below).
 */
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { StateCodec } from "../../harness/core/codecs.ts";
import { ACTION_COUNT, ACTION_NAMES, createSnapshot } from "../../harness/core/contract.ts";
import type { OnnxPolicyModel } from "../onnx-model.ts";

/**
 * obs-v1's default background: a healthy steady state (3 of 10 replicas, all healthy, CPU and
 * memory at 30%, 50 ms latency, no errors, the last failure an episode ago).
 */
export const HEALTHY_BACKGROUND: readonly (readonly number[])[] = [[0.3, 0, 0, 0.3, 0.3, 0.05, 0, 1, 0.3]];

/** Up to this many features every coalition is evaluated (2^12 = 4,096 per background row). */
export const EXACT_MAX_FEATURES = 12;
/** Feature orders sampled past {@link EXACT_MAX_FEATURES} (obs-v2: 64 x 26 states per background row). */
export const SAMPLED_PERMUTATIONS = 64;
const SAMPLING_SEED = 0x5ba9;

const BACKGROUNDS = new Map<string, readonly (readonly number[])[]>();

/**
 * The default background of `codec`: the healthy steady state of {@link HEALTHY_BACKGROUND}
 * (serving 90 rps on 3 pods of 100 rps, 30% of their capacity), encoded by the codec itself
 * with no history (obs-v2's trends 0), rounded to 6 decimals. obs-v1's is that constant.
 */
export function healthyBackground(codec: StateCodec): readonly (readonly number[])[] {
  if (codec.name === "obs-v1") return HEALTHY_BACKGROUND;
  let bg = BACKGROUNDS.get(codec.name);
  if (bg === undefined) {
    const s = Object.assign(createSnapshot(), {
      desiredReplicas: 3,
      readyReplicas: 3,
      pods: 3,
      healthy: 3,
      cpu: 0.3,
      memory: 0.3,
      latencyMs: 50,
      requestRate: 90,
      sinceFailureS: 2000,
    });
    const enc = codec.create({ maxReplicas: 10, episodeSeconds: 2000, podCapacityRps: 100 });
    const v = enc.encode(s, new Float32Array(codec.dim));
    bg = [Array.from(v, (x) => Math.round(x * 1e6) / 1e6)];
    BACKGROUNDS.set(codec.name, bg);
  }
  return bg;
}

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
  /** "exact", or "sampled: K permutations (seeded)". */
  readonly method: string;
  readonly background: readonly (readonly number[])[];
}

/** |S|! (n - |S| - 1)! / n! for |S| = 0..n-1. */
function shapleyWeights(n: number): number[] {
  const fact = [1];
  for (let k = 1; k <= n; k++) fact.push(fact[k - 1]! * k);
  return Array.from({ length: n }, (_, s) => (fact[s]! * fact[n - s - 1]!) / fact[n]!);
}

const popcount = (m: number) => {
  let c = 0;
  for (let x = m; x !== 0; x &= x - 1) c++;
  return c;
};

export async function explain(
  model: OnnxPolicyModel,
  state: readonly number[],
  background: readonly (readonly number[])[] = healthyBackground(model.codec),
): Promise<Explanation> {
  const n = model.codec.dim;
  const parts =
    n <= EXACT_MAX_FEATURES ? await exact(model, state, background) : await sampled(model, state, background);
  const attributions: Attribution[] = [];
  for (let i = 0; i < n; i++) {
    attributions.push({ feature: model.codec.features[i]!, index: i, value: state[i]!, phi: parts.phi[i]! });
  }
  return {
    action: parts.action,
    actionName: ACTION_NAMES[parts.action]!,
    output: parts.output,
    base: parts.base,
    attributions,
    method: parts.method,
    background,
  };
}

interface Parts {
  readonly action: number;
  readonly output: number;
  readonly base: number;
  readonly phi: Float64Array;
  readonly method: string;
}

/** Every coalition, in one model run. */
async function exact(
  model: OnnxPolicyModel,
  state: readonly number[],
  background: readonly (readonly number[])[],
): Promise<Parts> {
  const N = model.codec.dim;
  const coalitions = 1 << N;
  const B = background.length;
  const rows = coalitions * B;
  const batch = new Float32Array(rows * N);
  for (let m = 0; m < coalitions; m++) {
    for (let b = 0; b < B; b++) {
      const base = (m * B + b) * N;
      for (let j = 0; j < N; j++) batch[base + j] = (m >> j) & 1 ? state[j]! : background[b]![j]!;
    }
  }
  const out = await model.decideBatch(batch, rows);
  if (out.probs === null) throw new Error(`${model.file}: the model has no action probabilities to attribute`);
  // The decision is the full coalition's (the state itself), on its first background row.
  const action = out.actions[(coalitions - 1) * B]!;
  const v = new Float64Array(coalitions);
  for (let m = 0; m < coalitions; m++) {
    let sum = 0;
    for (let b = 0; b < B; b++) sum += out.probs[(m * B + b) * ACTION_COUNT + action]!;
    v[m] = sum / B;
  }
  const weights = shapleyWeights(N);
  const phi = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const bit = 1 << i;
    for (let m = 0; m < coalitions; m++) {
      if (m & bit) continue;
      phi[i]! += weights[popcount(m)]! * (v[m | bit]! - v[m]!);
    }
  }
  return { action, output: v[coalitions - 1]!, base: v[0]!, phi, method: "exact" };
}

/**
 * Seeded permutation sampling, in one model run: for order k, row j (0..n) is the state with
 * the first j features of the order from `x` and the rest from the background row.
 */
async function sampled(
  model: OnnxPolicyModel,
  state: readonly number[],
  background: readonly (readonly number[])[],
): Promise<Parts> {
  const N = model.codec.dim;
  const K = SAMPLED_PERMUTATIONS;
  const B = background.length;
  const rng = xoroshiro128plus(SAMPLING_SEED);
  const orders: Int32Array[] = [];
  for (let k = 0; k < K; k++) {
    const order = Int32Array.from({ length: N }, (_, i) => i);
    // Fisher-Yates with the seeded generator: the same orders for every request.
    for (let i = N - 1; i > 0; i--) {
      const j = (rng.next() >>> 0) % (i + 1);
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    orders.push(order);
  }
  const perOrder = (N + 1) * B;
  const rows = K * perOrder;
  const batch = new Float32Array(rows * N);
  const row = new Float64Array(N);
  for (let k = 0; k < K; k++) {
    const order = orders[k]!;
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < N; j++) row[j] = background[b]![j]!;
      for (let step = 0; step <= N; step++) {
        if (step > 0) row[order[step - 1]!] = state[order[step - 1]!]!;
        batch.set(row, (k * perOrder + step * B + b) * N);
      }
    }
  }
  const out = await model.decideBatch(batch, rows);
  if (out.probs === null) throw new Error(`${model.file}: the model has no action probabilities to attribute`);
  // The state itself is the last step of every order: its action is the decision.
  const action = out.actions[N * B]!;
  const v = (k: number, step: number) => {
    let sum = 0;
    for (let b = 0; b < B; b++) sum += out.probs![(k * perOrder + step * B + b) * ACTION_COUNT + action]!;
    return sum / B;
  };
  const phi = new Float64Array(N);
  for (let k = 0; k < K; k++) {
    const order = orders[k]!;
    let prev = v(k, 0);
    for (let step = 1; step <= N; step++) {
      const cur = v(k, step);
      phi[order[step - 1]!]! += (cur - prev) / K;
      prev = cur;
    }
  }
  return { action, output: v(0, N), base: v(0, 0), phi, method: `sampled: ${K} permutations (seeded)` };
}
