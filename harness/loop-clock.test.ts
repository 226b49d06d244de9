/**
 * Absolute time on the wall clock: the loop asks `sleepUntil(start + (k+1) × step)`, so a
 * slow observation does not push the later steps back. 100 steps of a 50 ms grid with an
 * observation that takes 25 ms: every deadline the loop asks for is exactly on the grid
 * (the last at 5 s), no step starts before its grid point, and the episode ends near 5 s
 * on the clock's own timeline. A relative sleep would end after about 7.5 s (100 × 75 ms);
 * the bound on the end leaves room for a loaded machine's late timers (load 20 on 2 cores
 * ended at 5.1-5.2 s), the grid itself is asserted exactly on the deadlines.
 */
import { setTimeout as delay } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { WallClock } from "../cluster/local/clock.ts";
import { SimBackend } from "../sim/backend.ts";
import { Action, type Backend, type Decision, type SyncPolicy } from "./core/contract.ts";
import { guardLimitsSchema } from "./core/guard.ts";
import { runEpisode } from "./loop.ts";

const STEP_S = 0.05;
const STEPS = 100;
const OBSERVE_MS = 25;

/** The simulator's observations, each taking OBSERVE_MS of real time, on a wall clock. */
function slowWallBackend(clock: WallClock): Backend {
  const sim = new SimBackend({ seed: 1 });
  return {
    clock,
    observe: async () => {
      await delay(OBSERVE_MS);
      return sim.observe();
    },
    execute: (a) => sim.execute(a),
    inject: (f) => sim.inject(f),
    clear: (f) => sim.clear(f),
    drainEvents: () => sim.drainEvents(),
  };
}

const noop: SyncPolicy = {
  name: "noop",
  decide: (): Decision => ({ action: Action.Noop, confidence: 1, reason: "test" }),
};

describe("the loop on a wall clock keeps its grid (absolute time)", () => {
  it("100 steps of 50 ms with a 25 ms observation: deadlines exactly on the grid, no step early, the end near 5 s", async () => {
    const clock = new WallClock();
    const times: number[] = [];
    const deadlines: number[] = [];
    const sleepUntil = clock.sleepUntil.bind(clock);
    clock.sleepUntil = (deadline, signal) => {
      deadlines.push(deadline);
      return sleepUntil(deadline, signal);
    };
    const start = clock.now();
    await runEpisode(
      {
        backend: slowWallBackend(clock),
        policy: noop,
        fallback: null,
        schedule: [],
        steps: STEPS,
        stepSeconds: STEP_S,
        codec: { maxReplicas: 10, episodeSeconds: STEPS * STEP_S },
        limits: guardLimitsSchema.parse({ minIntervalS: 0 }),
        slo: { latencyMs: 300, errorRate: 0.01 },
        confirmWindowS: 0.15,
      },
      { onStep: (r) => times.push(r.time) },
    );
    const end = clock.now();
    expect(times).toHaveLength(STEPS);
    // The grid: the loop's origin is its first step; deadline k is origin + (k+1) × step.
    const origin = deadlines[0]! - STEP_S;
    expect(origin - start).toBeGreaterThanOrEqual(0);
    expect(deadlines.map((d, k) => Math.abs(d - (origin + (k + 1) * STEP_S)) < 1e-9)).toEqual(Array(STEPS).fill(true));
    // Never early: step k starts at or after its grid point.
    expect(times.filter((t, k) => t < origin + k * STEP_S - 1e-9)).toEqual([]);
    // The end: not before the last deadline (5 s), and far from a relative sleep's 7.5 s.
    expect(end - origin).toBeGreaterThanOrEqual(STEPS * STEP_S - 0.001);
    expect(end - origin).toBeLessThan(STEPS * STEP_S + 0.5);
  }, 60_000);

  it("an abort ends a wait at once", async () => {
    const clock = new WallClock();
    const ac = new AbortController();
    const waiting = clock.sleepUntil(clock.now() + 3600, ac.signal);
    ac.abort();
    await waiting;
    expect(clock.now()).toBeLessThan(3600);
  });
});
