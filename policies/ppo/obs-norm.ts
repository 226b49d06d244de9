/**
 * Running observation normalisation (SB3's `VecNormalize` / `RunningMeanStd`): mean and
 * variance over every observation seen in rollouts, merged batch by batch (Chan et al.'s
 * parallel update), and `clip((x - mean) / sqrt(var + eps), -clip, clip)`. The exported
 * ONNX graph applies the same transform, so a deployed model takes raw `obs-v1` vectors.
 */
export const OBS_NORM_EPS = 1e-8;

export class RunningMeanStd {
  readonly mean: Float64Array;
  readonly var: Float64Array;
  /** SB3 starts the count at 1e-4 so that the first merge is well defined. */
  count = 1e-4;

  constructor(readonly dim: number) {
    this.mean = new Float64Array(dim);
    this.var = new Float64Array(dim).fill(1);
  }

  /** Merges the `n` rows of `x` ([n, dim]). */
  update(x: Float32Array, n: number): void {
    const d = this.dim;
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += x[i * d + j];
      const bMean = s / n;
      let v = 0;
      for (let i = 0; i < n; i++) {
        const dx = x[i * d + j] - bMean;
        v += dx * dx;
      }
      const bVar = v / n;
      const delta = bMean - this.mean[j];
      const tot = this.count + n;
      const m2 = this.var[j] * this.count + bVar * n + (delta * delta * this.count * n) / tot;
      this.mean[j] += (delta * n) / tot;
      this.var[j] = m2 / tot;
    }
    this.count += n;
  }

  /** Writes the normalised rows of `x` into `out` (may be the same array). */
  normalize(x: Float32Array, n: number, clip: number, out: Float32Array): void {
    const d = this.dim;
    for (let j = 0; j < d; j++) {
      const m = this.mean[j];
      const inv = 1 / Math.sqrt(this.var[j] + OBS_NORM_EPS);
      for (let i = 0; i < n; i++) {
        const z = (x[i * d + j] - m) * inv;
        out[i * d + j] = Math.max(-clip, Math.min(clip, z));
      }
    }
  }

  toJSON(): { mean: number[]; var: number[]; count: number } {
    return { mean: Array.from(this.mean), var: Array.from(this.var), count: this.count };
  }

  static fromJSON(j: { mean: number[]; var: number[]; count: number }): RunningMeanStd {
    const r = new RunningMeanStd(j.mean.length);
    r.mean.set(j.mean);
    r.var.set(j.var);
    r.count = j.count;
    return r;
  }
}
