/**
 * The actor-critic network of PPO, written by hand over one flat `Float32Array` of
 * parameters: two separate tanh MLPs (cleanrl's `Agent`, SB3's default `MlpPolicy`), an
 * actor `obs -> hidden... -> logits[nActions]` and a critic `obs -> hidden... -> value`.
 *
 * Why by hand: on a 9-64-64 MLP the tfjs wasm backend spends its time in per-op overhead
 * (dispatch, tensor bookkeeping), not in arithmetic; plain loops over typed arrays do a
 * whole minibatch forward + backward several times faster (bench/train.ts measures both).
 * `tf-model.ts` computes the same forward pass and the same loss gradients with tfjs; the
 * tests pin the two together, and the ONNX export is checked against tfjs.
 *
 * Layout of `params` (row-major; a weight is [out, in] as in torch's `nn.Linear`, so
 * `y = x W^T + b`, which ONNX `Gemm(transB=1)` takes as is), in this order:
 *   pi.0.w, pi.0.b, pi.1.w, pi.1.b, ..., pi.out.w, pi.out.b,
 *   vf.0.w, vf.0.b, vf.1.w, vf.1.b, ..., vf.out.w, vf.out.b
 * Gradients use the same layout, so Adam and gradient clipping run over one flat array.
 */

export interface MlpSpec {
  /** Observation size (obs-v1: 9). */
  readonly obsDim: number;
  /** Hidden layer sizes, the same for actor and critic (SB3/cleanrl: [64, 64]). */
  readonly hidden: readonly number[];
  /** Number of discrete actions (5). */
  readonly nActions: number;
}

export interface TensorSpec {
  /** e.g. `pi.0.w`, `vf.out.b`. */
  readonly name: string;
  /** [out, in] for weights, [out] for biases. */
  readonly shape: readonly number[];
  readonly offset: number;
  readonly size: number;
}

/** One dense layer's place in the flat parameter array. */
export interface DenseSpec {
  readonly inDim: number;
  readonly outDim: number;
  /** Offset of the [outDim, inDim] weight. */
  readonly w: number;
  /** Offset of the [outDim] bias. */
  readonly b: number;
}

export interface ParamLayout {
  readonly tensors: readonly TensorSpec[];
  readonly size: number;
  readonly actor: readonly DenseSpec[];
  readonly critic: readonly DenseSpec[];
}

export function paramLayout(spec: MlpSpec): ParamLayout {
  const tensors: TensorSpec[] = [];
  let offset = 0;
  const add = (name: string, shape: number[]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    tensors.push({ name, shape, offset, size });
    offset += size;
    return offset - size;
  };
  const net = (prefix: string, outDim: number): DenseSpec[] => {
    const layers: DenseSpec[] = [];
    let inDim = spec.obsDim;
    [...spec.hidden, outDim].forEach((d, i) => {
      const tag = i === spec.hidden.length ? "out" : String(i);
      const w = add(`${prefix}.${tag}.w`, [d, inDim]);
      const b = add(`${prefix}.${tag}.b`, [d]);
      layers.push({ inDim, outDim: d, w, b });
      inDim = d;
    });
    return layers;
  };
  const actor = net("pi", spec.nActions);
  const critic = net("vf", 1);
  return { tensors, size: offset, actor, critic };
}

// ---------------------------------------------------------------------------
// Kernels. Every product is written as C = A B^T with both operands row-major along the
// summed axis (`gemmNT`), so the innermost loop reads two contiguous runs; it is blocked
// 2 rows x 4 columns (8 accumulators kept in registers), which V8 runs at about 2 GMAC/s
// on one core, 3-4x the naive triple loop.

/**
 * C[r, c] = sum_t A[aOff + r m + t] B[bOff + c m + t] for r < n, c < p, with C row-major
 * [n, p] at cOff: A is [n, m] and B is [p, m], both row-major.
 */
export function gemmNT(
  A: Float32Array,
  aOff: number,
  B: Float32Array,
  bOff: number,
  C: Float32Array,
  cOff: number,
  n: number,
  p: number,
  m: number,
): void {
  let r = 0;
  for (; r + 1 < n; r += 2) {
    const a0 = aOff + r * m;
    const a1 = a0 + m;
    const c0 = cOff + r * p;
    const c1 = c0 + p;
    let c = 0;
    for (; c + 3 < p; c += 4) {
      const b0 = bOff + c * m;
      const b1 = b0 + m;
      const b2 = b1 + m;
      const b3 = b2 + m;
      let s00 = 0;
      let s01 = 0;
      let s02 = 0;
      let s03 = 0;
      let s10 = 0;
      let s11 = 0;
      let s12 = 0;
      let s13 = 0;
      for (let t = 0; t < m; t++) {
        const x0 = A[a0 + t];
        const x1 = A[a1 + t];
        const w0 = B[b0 + t];
        const w1 = B[b1 + t];
        const w2 = B[b2 + t];
        const w3 = B[b3 + t];
        s00 += x0 * w0;
        s01 += x0 * w1;
        s02 += x0 * w2;
        s03 += x0 * w3;
        s10 += x1 * w0;
        s11 += x1 * w1;
        s12 += x1 * w2;
        s13 += x1 * w3;
      }
      C[c0 + c] = s00;
      C[c0 + c + 1] = s01;
      C[c0 + c + 2] = s02;
      C[c0 + c + 3] = s03;
      C[c1 + c] = s10;
      C[c1 + c + 1] = s11;
      C[c1 + c + 2] = s12;
      C[c1 + c + 3] = s13;
    }
    for (; c < p; c++) {
      const b0 = bOff + c * m;
      let s0 = 0;
      let s1 = 0;
      for (let t = 0; t < m; t++) {
        const w = B[b0 + t];
        s0 += A[a0 + t] * w;
        s1 += A[a1 + t] * w;
      }
      C[c0 + c] = s0;
      C[c1 + c] = s1;
    }
  }
  for (; r < n; r++) {
    const a0 = aOff + r * m;
    const c0 = cOff + r * p;
    let c = 0;
    for (; c + 3 < p; c += 4) {
      const b0 = bOff + c * m;
      const b1 = b0 + m;
      const b2 = b1 + m;
      const b3 = b2 + m;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let t = 0; t < m; t++) {
        const x = A[a0 + t];
        s0 += x * B[b0 + t];
        s1 += x * B[b1 + t];
        s2 += x * B[b2 + t];
        s3 += x * B[b3 + t];
      }
      C[c0 + c] = s0;
      C[c0 + c + 1] = s1;
      C[c0 + c + 2] = s2;
      C[c0 + c + 3] = s3;
    }
    for (; c < p; c++) {
      const b0 = bOff + c * m;
      let s = 0;
      for (let t = 0; t < m; t++) s += A[a0 + t] * B[b0 + t];
      C[c0 + c] = s;
    }
  }
}

/** out[outOff + c rows + r] = a[aOff + r cols + c]: the transpose of a [rows, cols] block. */
export function transpose(
  a: Float32Array,
  aOff: number,
  rows: number,
  cols: number,
  out: Float32Array,
  outOff: number,
): void {
  for (let r = 0; r < rows; r++) {
    const ro = aOff + r * cols;
    for (let c = 0; c < cols; c++) out[outOff + c * rows + r] = a[ro + c];
  }
}

/** Y[n, out] = X[n, in] W^T + b, then tanh for a `hidden` layer. */
function denseForward(
  p: Float32Array,
  l: DenseSpec,
  x: Float32Array,
  n: number,
  y: Float32Array,
  hidden: boolean,
): void {
  const { inDim, outDim, w, b } = l;
  gemmNT(x, 0, p, w, y, 0, n, outDim, inDim);
  for (let i = 0; i < n; i++) {
    const yo = i * outDim;
    if (hidden) for (let j = 0; j < outDim; j++) y[yo + j] = tanh(y[yo + j] + p[b + j]);
    else for (let j = 0; j < outDim; j++) y[yo + j] += p[b + j];
  }
}

// ---------------------------------------------------------------------------

/** The loss coefficients of one minibatch update (cleanrl's names). */
export interface LossCoefs {
  readonly clipCoef: number;
  readonly entCoef: number;
  readonly vfCoef: number;
}

/** What one minibatch's loss evaluation reports (means over the minibatch). */
export interface LossStats {
  pgLoss: number;
  vLoss: number;
  entropy: number;
  /** cleanrl's `approx_kl`: mean((ratio - 1) - log ratio), Schulman's low-variance estimator. */
  approxKl: number;
  /** Share of samples whose ratio left [1 - clipCoef, 1 + clipCoef]. */
  clipFrac: number;
  /** The total loss: pgLoss - entCoef * entropy + vfCoef * vLoss. */
  loss: number;
}

export function emptyLossStats(): LossStats {
  return { pgLoss: 0, vLoss: 0, entropy: 0, approxKl: 0, clipFrac: 0, loss: 0 };
}

/** A minibatch, as rows gathered from the rollout buffers (contiguous). */
export interface Minibatch {
  readonly n: number;
  /** [n, obsDim] */
  readonly obs: Float32Array;
  /** [n] action ids. */
  readonly actions: Int32Array;
  /** [n] log pi_old(a|s) at collection time. */
  readonly logProbs: Float32Array;
  /** [n] advantages (normalised or not: the caller decides). */
  readonly advantages: Float32Array;
  /** [n] value targets (GAE returns). */
  readonly returns: Float32Array;
  /**
   * [n, nActions] action masks at collection time (1: allowed), with `actionMask`; the
   * policy's distribution is then over the allowed actions only ({@link maskLogits}).
   */
  readonly masks?: Uint8Array | null;
}

/**
 * The per-sample PPO loss terms for one row, given log pi(a|s), the old log-probability,
 * the advantage and the clip coefficient: what `lossAndGrad` sums, exposed for tests
 * against hand-computed values. `gLogp` is d(pg term)/d log pi(a|s).
 */
export function clippedSurrogate(
  logp: number,
  oldLogp: number,
  adv: number,
  clipCoef: number,
): { ratio: number; loss: number; gLogp: number; clipped: boolean } {
  const ratio = Math.exp(logp - oldLogp);
  const pg1 = -adv * ratio;
  const pg2 = -adv * Math.min(Math.max(ratio, 1 - clipCoef), 1 + clipCoef);
  // Gradient of max(pg1, pg2) w.r.t. log pi: through pg1 when it is the max (ties go to
  // pg1, as tfjs's and torch's `maximum`), through the clip only inside the clip range.
  const inside = ratio >= 1 - clipCoef && ratio <= 1 + clipCoef;
  const gLogp = pg1 >= pg2 || inside ? -adv * ratio : 0;
  return { ratio, loss: Math.max(pg1, pg2), gLogp, clipped: Math.abs(ratio - 1) > clipCoef };
}

/**
 * The actor-critic over a flat parameter array, with preallocated activations for up to
 * `maxBatch` rows. Not thread-safe; one instance per trainer.
 */
export class ActorCritic {
  readonly layout: ParamLayout;
  readonly params: Float32Array;
  /** Logits [maxBatch, nActions] of the last forward pass. */
  readonly logits: Float32Array;
  /** Action probabilities [maxBatch, nActions] of the last forward pass. */
  readonly probs: Float32Array;
  /** Values [maxBatch] of the last forward pass. */
  readonly values: Float32Array;
  /** Hidden activations (after tanh), one [maxBatch, h] per hidden layer. */
  private readonly actorActs: Float32Array[];
  private readonly criticActs: Float32Array[];
  /** Gradients w.r.t. each layer's pre-activation output, [maxBatch, out]. */
  private readonly dA: Float32Array[];
  private readonly dC: Float32Array[];
  /** Scratch: transposed inputs [in, n], transposed output gradients [out, n], W^T [in, out]. */
  private readonly xT: Float32Array;
  private readonly dyT: Float32Array;
  private readonly wT: Float32Array;

  constructor(
    readonly spec: MlpSpec,
    readonly maxBatch: number,
    params?: Float32Array,
  ) {
    this.layout = paramLayout(spec);
    this.params = params ?? new Float32Array(this.layout.size);
    if (this.params.length !== this.layout.size) {
      throw new Error(`Expected ${this.layout.size} parameters, got ${this.params.length}`);
    }
    const A = spec.nActions;
    this.logits = new Float32Array(maxBatch * A);
    this.probs = new Float32Array(maxBatch * A);
    this.values = new Float32Array(maxBatch);
    this.actorActs = spec.hidden.map((h) => new Float32Array(maxBatch * h));
    this.criticActs = spec.hidden.map((h) => new Float32Array(maxBatch * h));
    this.dA = [...spec.hidden.map((h) => new Float32Array(maxBatch * h)), new Float32Array(maxBatch * A)];
    this.dC = [...spec.hidden.map((h) => new Float32Array(maxBatch * h)), new Float32Array(maxBatch)];
    const widest = Math.max(spec.obsDim, A, ...spec.hidden);
    this.xT = new Float32Array(maxBatch * widest);
    this.dyT = new Float32Array(maxBatch * widest);
    this.wT = new Float32Array(widest * widest);
  }

  /** Forward pass of `n` rows of `obs` ([n, obsDim]): fills logits, probs and values. */
  forward(obs: Float32Array, n: number): void {
    this.forwardActor(obs, n);
    this.forwardCritic(obs, n);
  }

  /** The actor alone: logits and probs. */
  forwardActor(obs: Float32Array, n: number): void {
    if (n > this.maxBatch) throw new Error(`Expected at most ${this.maxBatch} rows, got ${n}`);
    const p = this.params;
    const actor = this.layout.actor;
    const H = this.spec.hidden.length;
    let x = obs;
    for (let l = 0; l < H; l++) {
      denseForward(p, actor[l], x, n, this.actorActs[l], true);
      x = this.actorActs[l];
    }
    denseForward(p, actor[H], x, n, this.logits, false);
    softmaxRows(this.logits, this.probs, n, this.spec.nActions);
  }

  /** The critic alone: values. */
  forwardCritic(obs: Float32Array, n: number): void {
    if (n > this.maxBatch) throw new Error(`Expected at most ${this.maxBatch} rows, got ${n}`);
    const p = this.params;
    const critic = this.layout.critic;
    const H = this.spec.hidden.length;
    let x = obs;
    for (let l = 0; l < H; l++) {
      denseForward(p, critic[l], x, n, this.criticActs[l], true);
      x = this.criticActs[l];
    }
    denseForward(p, critic[H], x, n, this.values, false);
  }

  /**
   * The PPO loss of one minibatch (cleanrl's `ppo.py`) and its gradient, written into
   * `grad` (same layout as `params`; every entry is overwritten). Runs the forward pass.
   *
   *   ratio    = exp(log pi(a|s) - logProbOld)
   *   pgLoss   = mean(max(-adv * ratio, -adv * clip(ratio, 1 - clipCoef, 1 + clipCoef)))
   *   vLoss    = 0.5 * mean((V(s) - returns)^2)
   *   entropy  = mean(H(pi(.|s)))
   *   loss     = pgLoss - entCoef * entropy + vfCoef * vLoss
   *
   * The actor's terms depend on the actor's parameters only and the value loss on the
   * critic's only, so the two halves ({@link actorLossAndGrad}, {@link criticLossAndGrad})
   * can run on two threads over shared memory (grad-worker.ts) with the same result.
   */
  lossAndGrad(mb: Minibatch, c: LossCoefs, grad: Float32Array, stats: LossStats): void {
    this.actorLossAndGrad(mb, c, grad, stats);
    this.criticLossAndGrad(mb, c, grad, stats);
    stats.loss = stats.pgLoss - c.entCoef * stats.entropy + c.vfCoef * stats.vLoss;
  }

  /** The clipped surrogate and entropy terms and the actor's gradient (sets pgLoss, entropy, approxKl, clipFrac). */
  actorLossAndGrad(mb: Minibatch, c: LossCoefs, grad: Float32Array, stats: LossStats): void {
    const n = mb.n;
    this.forwardActor(mb.obs, n);
    const A = this.spec.nActions;
    if (mb.masks) maskLogits(this.logits, this.probs, mb.masks, n, A);
    const H = this.spec.hidden.length;
    const logits = this.logits;
    const probs = this.probs;
    const dLogits = this.dA[H];
    let pg = 0;
    let ent = 0;
    let kl = 0;
    let clipped = 0;
    const inv = 1 / n;
    const lo = 1 - c.clipCoef;
    const hi = 1 + c.clipCoef;
    for (let i = 0; i < n; i++) {
      const o = i * A;
      // log Z by log-sum-exp, so that log pi stays finite however peaked the policy is.
      let m = logits[o];
      for (let k = 1; k < A; k++) if (logits[o + k] > m) m = logits[o + k];
      let z = 0;
      for (let k = 0; k < A; k++) z += Math.exp(logits[o + k] - m);
      const logZ = m + Math.log(z);
      let h = 0;
      for (let k = 0; k < A; k++) h -= probs[o + k] * (logits[o + k] - logZ);
      const a = mb.actions[i];
      const logRatio = logits[o + a] - logZ - mb.logProbs[i];
      const ratio = Math.exp(logRatio);
      const adv = mb.advantages[i];
      const pg1 = -adv * ratio;
      const pg2 = -adv * Math.min(Math.max(ratio, lo), hi);
      // See clippedSurrogate: the gradient flows through pg1 when it is the max (ties
      // included), and through the clipped term only inside the clip range.
      const gLogp = pg1 >= pg2 || (ratio >= lo && ratio <= hi) ? -adv * ratio : 0;
      pg += Math.max(pg1, pg2);
      ent += h;
      kl += ratio - 1 - logRatio;
      if (Math.abs(ratio - 1) > c.clipCoef) clipped++;
      // d loss / d logit_k = [gLogp (1[k = a] - p_k) + entCoef p_k (log p_k + H)] / n
      for (let k = 0; k < A; k++) {
        const pk = probs[o + k];
        dLogits[o + k] = (gLogp * ((k === a ? 1 : 0) - pk) + c.entCoef * pk * (logits[o + k] - logZ + h)) * inv;
      }
    }
    stats.pgLoss = pg * inv;
    stats.entropy = ent * inv;
    stats.approxKl = kl * inv;
    stats.clipFrac = clipped * inv;
    this.backward(this.layout.actor, this.actorActs, this.dA, mb.obs, n, grad);
  }

  /** The value loss and the critic's gradient (sets vLoss). */
  criticLossAndGrad(mb: Minibatch, c: LossCoefs, grad: Float32Array, stats: LossStats): void {
    const n = mb.n;
    this.forwardCritic(mb.obs, n);
    const dV = this.dC[this.spec.hidden.length];
    const inv = 1 / n;
    let vl = 0;
    for (let i = 0; i < n; i++) {
      const dv = this.values[i] - mb.returns[i];
      vl += dv * dv;
      dV[i] = c.vfCoef * dv * inv;
    }
    stats.vLoss = 0.5 * vl * inv;
    this.backward(this.layout.critic, this.criticActs, this.dC, mb.obs, n, grad);
  }

  /**
   * Backpropagation through one MLP, from d[last] (gradient w.r.t. its output):
   *   dW = dY^T X  (as gemmNT(dY^T, X^T)),  db = column sums of dY,
   *   dX = dY W    (as gemmNT(dY, W^T)),    then through tanh: dX *= 1 - h^2.
   */
  private backward(
    layers: readonly DenseSpec[],
    acts: readonly Float32Array[],
    d: readonly Float32Array[],
    obs: Float32Array,
    n: number,
    grad: Float32Array,
  ): void {
    const p = this.params;
    const { xT, dyT, wT } = this;
    for (let l = layers.length - 1; l >= 0; l--) {
      const { inDim, outDim, w, b } = layers[l];
      const x = l === 0 ? obs : acts[l - 1];
      const dy = d[l];
      transpose(dy, 0, n, outDim, dyT, 0);
      transpose(x, 0, n, inDim, xT, 0);
      gemmNT(dyT, 0, xT, 0, grad, w, outDim, inDim, n);
      for (let j = 0; j < outDim; j++) {
        let s = 0;
        const o = j * n;
        for (let i = 0; i < n; i++) s += dyT[o + i];
        grad[b + j] = s;
      }
      if (l > 0) {
        transpose(p, w, outDim, inDim, wT, 0);
        const dx = d[l - 1];
        gemmNT(dy, 0, wT, 0, dx, 0, n, inDim, outDim);
        const h = acts[l - 1];
        const len = n * inDim;
        for (let i = 0; i < len; i++) {
          const v = h[i];
          dx[i] *= 1 - v * v;
        }
      }
    }
  }
}

/**
 * The logit a masked action gets: sb3-contrib's MaskableCategorical's -1e8, so that its
 * probability is exactly 0 in float and its log-probability stays finite (an entropy term
 * p log p is then 0, not NaN). A masked logit is a constant: no gradient reaches the
 * network through it, and the loss's gradient (p_k factors) is 0 there by itself.
 */
export const MASKED_LOGIT = -1e8;

/**
 * Replaces the logits of masked actions (`masks` [n, A], 0: masked) by {@link MASKED_LOGIT}
 * and recomputes the probabilities: the policy restricted to the allowed actions.
 */
export function maskLogits(logits: Float32Array, probs: Float32Array, masks: Uint8Array, n: number, A: number): void {
  for (let i = 0; i < n * A; i++) if (masks[i] === 0) logits[i] = MASKED_LOGIT;
  softmaxRows(logits, probs, n, A);
}

/** Row-wise softmax of [n, A] logits into `out`. */
export function softmaxRows(logits: Float32Array, out: Float32Array, n: number, A: number): void {
  for (let i = 0; i < n; i++) {
    const o = i * A;
    let m = logits[o];
    for (let k = 1; k < A; k++) if (logits[o + k] > m) m = logits[o + k];
    let z = 0;
    for (let k = 0; k < A; k++) {
      const e = Math.exp(logits[o + k] - m);
      out[o + k] = e;
      z += e;
    }
    const iz = 1 / z;
    for (let k = 0; k < A; k++) out[o + k] *= iz;
  }
}

/**
 * tanh(x) as 1 - 2 / (e^2x + 1): within 4e-16 of `Math.tanh` over the reals (exact at the
 * saturated ends: e^2x overflows to Infinity or underflows to 0) and about 30% faster in V8.
 */
export function tanh(x: number): number {
  return 1 - 2 / (Math.exp(2 * x) + 1);
}
