/**
 * Adam (Kingma & Ba) over one flat parameter array, with torch's semantics (the ones SB3
 * and cleanrl train with): bias-corrected moments, epsilon added to sqrt(v_hat).
 * The state (moments and step count) is plain data, for checkpoints.
 */
export interface AdamState {
  /** First moment, same length as the parameters. */
  readonly m: Float32Array;
  /** Second moment. */
  readonly v: Float32Array;
  /** Steps taken. */
  t: number;
}

export function createAdamState(size: number): AdamState {
  return { m: new Float32Array(size), v: new Float32Array(size), t: 0 };
}

export interface AdamHyper {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
}

/** One Adam step: params -= lr * m_hat / (sqrt(v_hat) + eps). */
export function adamStep(params: Float32Array, grad: Float32Array, s: AdamState, h: AdamHyper): void {
  s.t++;
  const { lr, beta1, beta2, eps } = h;
  const bc1 = 1 - beta1 ** s.t;
  const bc2 = 1 - beta2 ** s.t;
  const stepSize = lr / bc1;
  const sqrtBc2 = Math.sqrt(bc2);
  const { m, v } = s;
  for (let i = 0; i < params.length; i++) {
    const g = grad[i];
    const mi = beta1 * m[i] + (1 - beta1) * g;
    const vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] -= (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + eps);
  }
}

/**
 * Scales `grad` so that its global L2 norm is at most `maxNorm` (torch's
 * `clip_grad_norm_`, with its 1e-6 guard); returns the norm before clipping.
 */
export function clipGradNorm(grad: Float32Array, maxNorm: number): number {
  let sq = 0;
  for (let i = 0; i < grad.length; i++) sq += grad[i] * grad[i];
  const norm = Math.sqrt(sq);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) for (let i = 0; i < grad.length; i++) grad[i] *= coef;
  return norm;
}
