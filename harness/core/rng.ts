/**
 * Seeded random streams. One episode seed gives several independent xoroshiro128+
 * streams, one per consumer, so that what one consumer draws never shifts another:
 *
 * | stream | consumer | draws |
 * |---|---|---|
 * | `Workload` | the offered request rate (sim/workload.ts) | a fixed 3 per step, whatever happens |
 * | `Schedule` | the fault schedule (harness/core/schedule.ts) | a fixed 3 per injection, before the episode |
 * | `Dynamics` | pod start-up times, overload crashes (sim/dynamics.ts) | as the state requires |
 *
 * The workload and schedule streams never see an action, so every policy run with the
 * same seed faces the same load and the same faults (common random numbers). Stream `k`
 * is pure-rand's xoroshiro128+ seeded with the scrambled seed and jumped `k + 1` times
 * (each jump skips 2^64 draws), so streams cannot overlap. There is no `Math.random`
 * anywhere in sim/.
 *
 * Hot path: the simulator copies a stream's state into an `Int32Array` and steps it with
 * {@link drawUniforms}, the same xoroshiro128+ step as pure-rand's `next()` (a test pins
 * the equality), written so that nothing is boxed: a non-inlined function returning a
 * double, or an int32 outside V8's small-integer range, would allocate on every call.
 */
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { JumpableRandomGenerator } from "pure-rand/types/JumpableRandomGenerator";

export const Stream = {
  Workload: 0,
  Schedule: 1,
  Dynamics: 2,
} as const;
export type Stream = (typeof Stream)[keyof typeof Stream];

export type Rng = JumpableRandomGenerator;

/**
 * Scrambles a 32-bit seed (murmur3's finaliser) so that neighbouring seeds (1, 2, 3 ...)
 * start far apart: xoroshiro128+ seeded directly with `n` returns `~n` as its first draw.
 */
export function mixSeed(seed: number): number {
  let h = seed | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** The generator of one stream of `seed` (an integer; only its low 32 bits count). */
export function streamRng(seed: number, stream: Stream): Rng {
  const rng = xoroshiro128plus(mixSeed(seed));
  for (let k = 0; k <= stream; k++) rng.jump();
  return rng;
}

export interface SeedStreams {
  readonly workload: Rng;
  readonly schedule: Rng;
  readonly dynamics: Rng;
}

/** All streams of a seed at once, sharing the jumps (what a reset needs); equal to {@link streamRng}'s. */
export function streamRngs(seed: number): SeedStreams {
  const rng = xoroshiro128plus(mixSeed(seed));
  rng.jump();
  const workload = rng.clone();
  rng.jump();
  const schedule = rng.clone();
  rng.jump();
  return { workload, schedule, dynamics: rng };
}

const TWO_POW_MINUS_32 = 2.3283064365386963e-10;

/** A uniform draw in [0, 1) with 32 bits of resolution; one `next()` call (cold paths). */
export function uniform01(rng: Rng): number {
  return (rng.next() >>> 0) * TWO_POW_MINUS_32;
}

/** A generator's state as the hot path keeps it: `[s01, s00, s11, s10]`, pure-rand's order. */
export type RngState = Int32Array;

export function createRngState(): RngState {
  return new Int32Array(4);
}

/** Copies the state of `rng` into `out` (allocates pure-rand's state array: for resets only). */
export function loadRngState(rng: Rng, out: RngState): void {
  const s = rng.getState();
  out[0] = s[0];
  out[1] = s[1];
  out[2] = s[2];
  out[3] = s[3];
}

/**
 * Writes `n` uniform draws in [0, 1) into `out[0..n)`, stepping `st` as pure-rand's
 * xoroshiro128+ `next()` does (draw k equals `(next() >>> 0) / 2^32`).
 */
export function drawUniforms(st: RngState, out: Float64Array, n: number): void {
  let s01 = st[0];
  let s00 = st[1];
  let s11 = st[2];
  let s10 = st[3];
  for (let k = 0; k < n; k++) {
    out[k] = ((s00 + s10) >>> 0) * TWO_POW_MINUS_32;
    const a0 = s10 ^ s00;
    const a1 = s11 ^ s01;
    const n00 = (s00 << 24) ^ (s01 >>> 8) ^ a0 ^ (a0 << 16);
    const n01 = (s01 << 24) ^ (s00 >>> 8) ^ a1 ^ ((a1 << 16) | (a0 >>> 16));
    s00 = n00;
    s01 = n01;
    s10 = (a1 << 5) ^ (a0 >>> 27);
    s11 = (a0 << 5) ^ (a1 >>> 27);
  }
  st[0] = s01;
  st[1] = s00;
  st[2] = s11;
  st[3] = s10;
}

/** One uniform draw from `st` through the scratch slot `scratch[0]` (for cold paths that want a value). */
export function uniformFrom(st: RngState, scratch: Float64Array): number {
  drawUniforms(st, scratch, 1);
  return scratch[0];
}

/** A uniform integer in [lo, hi] (both included), one draw from `st`. */
export function uniformIntFrom(st: RngState, scratch: Float64Array, lo: number, hi: number): number {
  drawUniforms(st, scratch, 1);
  return lo + Math.floor(scratch[0] * (hi - lo + 1));
}
