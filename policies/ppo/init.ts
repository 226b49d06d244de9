/**
 * Weight initialisation as cleanrl's `layer_init` and SB3's `ortho_init`: orthogonal
 * weights with gain sqrt(2) for hidden layers, 0.01 for the policy head (near-uniform
 * initial policy) and 1 for the value head; zero biases. Drawn from the trainer's seeded
 * stream, so the same seed gives the same network.
 */
import type { DenseSpec, ParamLayout } from "./mlp.ts";
import type { TrainRng } from "./rng.ts";

/**
 * Fills the [rows, cols] block of `out` at `offset` with a (semi-)orthogonal matrix times
 * `gain`: Gram-Schmidt on Gaussian vectors along the longer side (what torch's
 * `orthogonal_` gets from a QR decomposition, up to signs).
 */
export function orthogonal(
  out: Float32Array,
  offset: number,
  rows: number,
  cols: number,
  gain: number,
  rng: TrainRng,
): void {
  const transposed = rows < cols;
  const n = transposed ? rows : cols; // vectors to orthonormalise
  const len = transposed ? cols : rows; // their length (>= n)
  const q: Float64Array[] = [];
  for (let k = 0; k < n; k++) {
    const v = new Float64Array(len);
    for (let i = 0; i < len; i++) v[i] = rng.normal();
    // Modified Gram-Schmidt, twice for numerical orthogonality.
    for (let pass = 0; pass < 2; pass++) {
      for (const u of q) {
        let d = 0;
        for (let i = 0; i < len; i++) d += u[i] * v[i];
        for (let i = 0; i < len; i++) v[i] -= d * u[i];
      }
    }
    let norm = 0;
    for (let i = 0; i < len; i++) norm += v[i] * v[i];
    norm = Math.sqrt(norm);
    for (let i = 0; i < len; i++) v[i] /= norm;
    q.push(v);
  }
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      // Columns of the [len, n] matrix Q are the vectors; W = Q (or Q^T when rows < cols).
      const x = transposed ? q[r][c] : q[c][r];
      out[offset + r * cols + c] = gain * x;
    }
  }
}

function initNet(params: Float32Array, layers: readonly DenseSpec[], headGain: number, rng: TrainRng): void {
  layers.forEach((l, i) => {
    const gain = i === layers.length - 1 ? headGain : Math.SQRT2;
    orthogonal(params, l.w, l.outDim, l.inDim, gain, rng);
    params.fill(0, l.b, l.b + l.outDim);
  });
}

/** Initialises every parameter in `params` (the layout's order: actor, then critic). */
export function initParams(params: Float32Array, layout: ParamLayout, rng: TrainRng): void {
  initNet(params, layout.actor, 0.01, rng);
  initNet(params, layout.critic, 1, rng);
}
