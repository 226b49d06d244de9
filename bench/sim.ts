/**
 * Simulator throughput: SimEnv.step under a seeded uniform-random policy with a mixed
 * fault schedule (every fault type, Poisson, one every 60 s on average), episodes of 200
 * steps (auto-reset on the next seed). Prints env steps/s and pod-steps/s (median of the
 * repetitions after a warm-up) for 3 and 10 pods, and the heap growth over 1M steps
 * between two full GCs (`global.gc` from `node --expose-gc`, or enabled at run time; "n/a"
 * when neither works).
 *
 *   node --expose-gc --import tsx bench/sim.ts
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { Action } from "../harness/core/contract.ts";
import { SimEnv, type SimEnvConfig } from "../sim/env.ts";
import { median } from "./stats.ts";

export interface SimBenchOptions {
  /** Steps per timed repetition. @default 1_000_000 */
  readonly steps?: number;
  /** Timed repetitions (the median is reported). @default 5 */
  readonly repetitions?: number;
  /** Untimed steps first, for the JIT. @default 300_000 */
  readonly warmupSteps?: number;
  /** Pod counts to measure. @default [3, 10] */
  readonly podCounts?: readonly number[];
}

export interface SimBenchFigure {
  readonly pods: number;
  readonly stepsPerSecond: number;
  readonly podStepsPerSecond: number;
  readonly meanPods: number;
  readonly meanEpisodeSteps: number;
  /** Heap growth over `steps` steps after a full GC, bytes; null without --expose-gc. */
  readonly heapGrowthBytes: number | null;
}

function configFor(pods: number): SimEnvConfig {
  return {
    params: { initialReplicas: pods, minReplicas: Math.max(1, pods - 2), maxReplicas: pods + 2 },
    workload: { pattern: "diurnal", baseRps: 50 * pods },
    faults: [
      { type: "pod-kill" },
      { type: "pod-failure", durationS: 60 },
      { type: "cpu-stress" },
      { type: "memory-leak", ratePerMin: 0.3 },
      { type: "network-delay" },
      { type: "load-spike" },
    ],
    frequency: { kind: "poisson", meanIntervalS: 60 },
  };
}

interface RunStats {
  podSteps: number;
  episodes: number;
}

/** Runs `steps` env steps; returns pod-steps and finished episodes. The hot loop of the bench. */
function run(env: SimEnv, config: SimEnvConfig, steps: number, seed: number, stats: RunStats): number {
  const policy = xoroshiro128plus(seed);
  let episodeSeed = seed;
  env.reset(episodeSeed, config);
  let podSteps = 0;
  let episodes = 0;
  for (let k = 0; k < steps; k++) {
    // (x >>> 0) % 5 is a uniform-enough action for a benchmark (bias < 1e-9).
    const action = ((policy.next() >>> 0) % 5) as Action;
    const r = env.step(action);
    podSteps += r.info.snapshot.pods;
    if (r.terminated || r.truncated) {
      episodes++;
      env.reset(++episodeSeed, config);
    }
  }
  stats.podSteps = podSteps;
  stats.episodes = episodes;
  return episodeSeed;
}

/** `global.gc` when node runs with --expose-gc, else the same function enabled at run time, else undefined. */
function findGc(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed !== undefined) return exposed;
  try {
    setFlagsFromString("--expose-gc");
    const gc: unknown = runInNewContext("gc");
    return typeof gc === "function" ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

export function benchSim(options: SimBenchOptions = {}): SimBenchFigure[] {
  const steps = options.steps ?? 1_000_000;
  const reps = options.repetitions ?? 5;
  const warmup = options.warmupSteps ?? 300_000;
  const gc = findGc();
  const figures: SimBenchFigure[] = [];
  const stats: RunStats = { podSteps: 0, episodes: 0 };
  for (const pods of options.podCounts ?? [3, 10]) {
    const config = configFor(pods);
    const env = new SimEnv();
    run(env, config, warmup, 1, stats);
    const rates: number[] = [];
    let podSteps = 0;
    let episodes = 0;
    for (let rep = 0; rep < reps; rep++) {
      const t0 = process.hrtime.bigint();
      run(env, config, steps, 1000 * (rep + 2), stats);
      const dt = Number(process.hrtime.bigint() - t0) / 1e9;
      rates.push(steps / dt);
      podSteps += stats.podSteps;
      episodes += stats.episodes;
    }
    let heapGrowthBytes: number | null = null;
    if (gc !== undefined) {
      gc();
      const before = process.memoryUsage().heapUsed;
      run(env, config, steps, 99, stats);
      gc();
      heapGrowthBytes = process.memoryUsage().heapUsed - before;
    }
    const stepsPerSecond = median(rates);
    const meanPods = podSteps / (steps * reps);
    figures.push({
      pods,
      stepsPerSecond,
      podStepsPerSecond: stepsPerSecond * meanPods,
      meanPods,
      meanEpisodeSteps: (steps * reps) / Math.max(1, episodes),
      heapGrowthBytes,
    });
  }
  return figures;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Runs the bench and prints its figures. */
export function printSimBench(options: SimBenchOptions = {}): SimBenchFigure[] {
  const steps = options.steps ?? 1_000_000;
  const reps = options.repetitions ?? 5;
  console.log(
    `sim: SimEnv.step, uniform-random policy, mixed faults (Poisson 60 s), median of ${reps} x ${fmt(steps)} steps`,
  );
  const figures = benchSim(options);
  for (const f of figures) {
    const heap = f.heapGrowthBytes === null ? "n/a (no gc: run with node --expose-gc)" : `${fmt(f.heapGrowthBytes)} B`;
    console.log(
      `  ${String(f.pods).padStart(2)} pods: ${fmt(f.stepsPerSecond).padStart(10)} steps/s  ` +
        `${fmt(f.podStepsPerSecond).padStart(11)} pod-steps/s  (mean ${f.meanPods.toFixed(1)} pods, ` +
        `${f.meanEpisodeSteps.toFixed(0)} steps/episode)  heap growth over ${fmt(steps)} steps: ${heap}`,
    );
  }
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) printSimBench();
