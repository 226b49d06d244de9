/**
 * The offered request rate, one value per step, from the seed alone.
 *
 *   rate_k = baseRps * pattern(k) * max(0, 1 + noise * sqrt(6) * (u1 + u2 - 1))
 *
 * - constant: pattern = 1
 * - diurnal: pattern = 1 + amplitude * sin(2 pi * k * stepSeconds / periodS)
 * - random-walk: pattern = level_k, level_k = level_{k-1} + walkStep * (2 u3 - 1), reflected
 *   into [1 - amplitude, 1 + amplitude]; level_0 = 1
 *
 * The noise is triangular (sum of two uniforms), with relative standard deviation `noise`
 * and bounded by ±2.45 noise, which is cheap and never produces an outlier. Every step
 * draws exactly three numbers (u1, u2, u3) from the `Workload` stream whatever the
 * pattern and whatever happens in the simulation, so the series is a function of the seed
 * and the workload parameters only (common random numbers). Load spikes are faults: the
 * simulator multiplies this rate by their factor (sim/faults.ts).
 *
 * A recorded series (a replay, harness/replay.ts) replaces the generator: rate_k is the
 * series' k-th value (the last one repeats past its end), and the `Workload` stream is not
 * drawn from. No other stream depends on it, so the dynamics stay the seed's.
 */

import {
  createRngState,
  drawUniforms,
  loadRngState,
  type Rng,
  type RngState,
  Stream,
  streamRng,
} from "../harness/core/rng.ts";
import type { Workload } from "./params.ts";

const SQRT6 = Math.sqrt(6);
const TWO_PI = 2 * Math.PI;

const PATTERN_CONSTANT = 0;
const PATTERN_DIURNAL = 1;
const PATTERN_WALK = 2;

/** The generator's mutable state; one per simulation, reused across resets. */
export class WorkloadState {
  /** The `Workload` stream, stepped in place. */
  readonly rng: RngState = createRngState();
  /** Scratch for the step's three draws. */
  readonly u = new Float64Array(3);
  /** The rate produced by the last {@link advanceWorkload}, requests per second. */
  rate = 0;
  /** Index of the next rate to produce (0 at reset). */
  k = 0;
  /** Random-walk level. */
  level = 1;
  pattern = PATTERN_CONSTANT;
  baseRps = 0;
  noiseScale = 0;
  amplitude = 0;
  /** Radians per step of the diurnal sinusoid. */
  omega = 0;
  walkStep = 0;
  /** A recorded series that replaces the generator, or null. */
  series: ArrayLike<number> | null = null;
}

/** Points `w` at the start of the series of `workload` for the seed's `Workload` stream `rng`. */
export function resetWorkload(
  w: WorkloadState,
  workload: Workload,
  stepSeconds: number,
  rng: Rng,
  series: ArrayLike<number> | null = null,
): void {
  if (series !== null && series.length === 0) throw new Error("Expected a recorded load series of at least one rate");
  loadRngState(rng, w.rng);
  w.series = series;
  w.rate = 0;
  w.k = 0;
  w.level = 1;
  w.pattern = workload.pattern === "diurnal" ? PATTERN_DIURNAL : workload.pattern === "random-walk" ? PATTERN_WALK : 0;
  w.baseRps = workload.baseRps;
  w.noiseScale = workload.noise * SQRT6;
  w.amplitude = workload.amplitude;
  w.omega = (TWO_PI * stepSeconds) / workload.periodS;
  w.walkStep = workload.walkStep;
}

/**
 * Produces the next rate of the series into `w.rate`, requests per second (rate_0 at the
 * first call after a reset). Returns nothing, so that no double is boxed in the hot path.
 */
export function advanceWorkload(w: WorkloadState): void {
  const series = w.series;
  if (series !== null) {
    w.rate = series[w.k < series.length ? w.k : series.length - 1]!;
    w.k++;
    return;
  }
  const u = w.u;
  drawUniforms(w.rng, u, 3);
  const u1 = u[0];
  const u2 = u[1];
  const u3 = u[2];
  const k = w.k;
  w.k = k + 1;
  let pattern = 1;
  if (w.pattern === PATTERN_DIURNAL) {
    pattern = 1 + w.amplitude * Math.sin(w.omega * k);
  } else if (w.pattern === PATTERN_WALK) {
    let level = w.level + w.walkStep * (2 * u3 - 1);
    const hi = 1 + w.amplitude;
    const lo = 1 - w.amplitude;
    if (level > hi) level = 2 * hi - level;
    if (level < lo) level = 2 * lo - level;
    if (level > hi) level = hi;
    w.level = level;
    pattern = level;
  }
  const noise = 1 + w.noiseScale * (u1 + u2 - 1);
  const rate = w.baseRps * pattern * noise;
  w.rate = Math.max(rate, 0);
}

/** The first `steps` rates of the series for `seed`: a convenience for tests and reports. */
export function workloadSeries(workload: Workload, stepSeconds: number, seed: number, steps: number): Float64Array {
  const w = new WorkloadState();
  resetWorkload(w, workload, stepSeconds, streamRng(seed, Stream.Workload));
  const out = new Float64Array(steps);
  for (let k = 0; k < steps; k++) {
    advanceWorkload(w);
    out[k] = w.rate;
  }
  return out;
}
