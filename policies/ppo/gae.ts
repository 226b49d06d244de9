/**
 * Generalised Advantage Estimation (Schulman et al. 2016), cleanrl's loop with SB3's
 * buffer convention. Buffers are [nSteps, nEnvs], row t holding every env at step t.
 *
 *   delta_t = r_t + gamma * V(s_{t+1}) * (1 - start_{t+1}) - V(s_t)
 *   A_t     = delta_t + gamma * lambda * (1 - start_{t+1}) * A_{t+1}
 *   R_t     = A_t + V(s_t)                                   (the value target)
 *
 * `episodeStarts[t, e]` is 1 when the observation at step t began a new episode (the one
 * before it ended), so `1 - start_{t+1}` cuts the bootstrap at episode ends. A time-limit
 * truncation is not a real end: the trainer adds gamma * V(final observation) to the last
 * reward before calling this (SB3's fix), so the value of an unfinished episode is kept.
 */
export interface GaeInput {
  readonly nSteps: number;
  readonly nEnvs: number;
  readonly gamma: number;
  readonly gaeLambda: number;
  /** [nSteps, nEnvs] */
  readonly rewards: Float32Array;
  /** [nSteps, nEnvs] V(s_t) at collection time. */
  readonly values: Float32Array;
  /** [nSteps, nEnvs] 1 when s_t is the first observation of an episode. */
  readonly episodeStarts: Uint8Array;
  /** [nEnvs] V of the observation after the last step. */
  readonly lastValues: Float32Array;
  /** [nEnvs] 1 when that observation began a new episode. */
  readonly lastEpisodeStarts: Uint8Array;
}

/** Fills `advantages` and `returns` ([nSteps, nEnvs]). */
export function computeGae(g: GaeInput, advantages: Float32Array, returns: Float32Array): void {
  const { nSteps, nEnvs, gamma, gaeLambda, rewards, values, episodeStarts } = g;
  for (let e = 0; e < nEnvs; e++) {
    let lastGaeLam = 0;
    for (let t = nSteps - 1; t >= 0; t--) {
      const i = t * nEnvs + e;
      let nextNonTerminal: number;
      let nextValue: number;
      if (t === nSteps - 1) {
        nextNonTerminal = 1 - g.lastEpisodeStarts[e];
        nextValue = g.lastValues[e];
      } else {
        nextNonTerminal = 1 - episodeStarts[i + nEnvs];
        nextValue = values[i + nEnvs];
      }
      const delta = rewards[i] + gamma * nextValue * nextNonTerminal - values[i];
      lastGaeLam = delta + gamma * gaeLambda * nextNonTerminal * lastGaeLam;
      advantages[i] = lastGaeLam;
      returns[i] = lastGaeLam + values[i];
    }
  }
}
