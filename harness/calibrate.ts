/**
 * Fitting the simulator to recorded real traces (issue 16, `harness calibrate`): the
 * parameter space, the loss and a seeded, deterministic search. No store here: the caller
 * (harness/calibrate-run.ts) reads the recorded episodes and hands them over.
 *
 * Loss: every recorded episode is run again in the simulator under its recorded policy, on
 * its recorded faults and offered load (a replay, harness/replay.ts), and compared with the
 * recording step by step (harness/sim-real.ts: the mean of five per-series mean absolute
 * errors, each series on [0, 1]). The simulator's own random stream is the episode seed's,
 * so the loss is a deterministic function of the parameters.
 *
 * Search, in the unit cube of the chosen dimensions (log scale where a parameter spans
 * decades): the starting point (the scenario's own values), `samples` points drawn from a
 * seeded xoroshiro128+, then, from the best point, a coordinate pattern search (each
 * dimension moved by ±h in turn, a move kept when it lowers the loss; h halves when no move
 * helps, down to `minStep`) and Nelder-Mead in turn while either improves, within `budget`
 * loss evaluations. Every step is deterministic, so a seed gives one answer.
 */
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { Scenario } from "../scenarios/schema.ts";
import type { SimParams } from "../sim/params.ts";
import type { SimParamsFile } from "../sim/params-file.ts";
import { mixSeed, uniform01 } from "./core/rng.ts";
import { type RecordedInputs, runPlannedEpisode } from "./episode.ts";
import type { PlannedEpisode } from "./plan.ts";
import { SERIES_COLUMNS, type SeriesColumns, SeriesError } from "./sim-real.ts";

type Scale = "log" | "linear" | "steps";

/** One dimension of the search: a simulator parameter, its bounds and its scale. */
export interface Dimension {
  readonly key: keyof SimParamsFile;
  readonly lo: number;
  readonly hi: number;
  /** `steps`: an integer number of steps, written as the range [k, k]. */
  readonly scale: Scale;
}

/**
 * What calibration can fit, with the bounds of the search. Times are in steps of the
 * scenario (a 2 s testbed step: 1..10 steps = 2..20 s).
 */
export const CALIBRATION_SPACE: readonly Dimension[] = [
  { key: "podCapacityRps", lo: 5, hi: 2000, scale: "log" },
  { key: "idleCpu", lo: 0, hi: 0.5, scale: "linear" },
  { key: "baseLatencyMs", lo: 1, hi: 1000, scale: "log" },
  { key: "latencyKneeCpu", lo: 0.2, hi: 0.95, scale: "linear" },
  { key: "latencyGain", lo: 0, hi: 60, scale: "linear" },
  { key: "errorKneeCpu", lo: 0.2, hi: 0.98, scale: "linear" },
  { key: "errorGain", lo: 0, hi: 1, scale: "linear" },
  { key: "smoothing", lo: 0.1, hi: 1, scale: "linear" },
  { key: "startupSteps", lo: 1, hi: 10, scale: "steps" },
  { key: "restartSteps", lo: 1, hi: 10, scale: "steps" },
  { key: "backoffInitialS", lo: 1, hi: 120, scale: "log" },
  { key: "stressEffect", lo: 0, hi: 3, scale: "linear" },
  { key: "delayEffect", lo: 0, hi: 3, scale: "linear" },
  { key: "leakEffect", lo: 0.1, hi: 20, scale: "log" },
];

export const CALIBRATION_KEYS = CALIBRATION_SPACE.map((d) => d.key);

export function dimensionsFor(keys: readonly string[] | undefined): Dimension[] {
  if (keys === undefined) return [...CALIBRATION_SPACE];
  return keys.map((k) => {
    const d = CALIBRATION_SPACE.find((x) => x.key === k);
    if (d === undefined)
      throw new Error(`Cannot fit ${JSON.stringify(k)}; the parameters are ${CALIBRATION_KEYS.join(", ")}`);
    return d;
  });
}

/** A point of the unit cube to a parameter value. */
export function toValue(d: Dimension, u: number): number | [number, number] {
  const x = Math.min(Math.max(u, 0), 1);
  if (d.scale === "log") return d.lo * (d.hi / d.lo) ** x;
  if (d.scale === "linear") return d.lo + x * (d.hi - d.lo);
  const k = Math.round(d.lo + x * (d.hi - d.lo));
  return [k, k];
}

/** A parameter value to the unit cube (clamped to the bounds; a step range by its midpoint). */
export function toUnit(d: Dimension, value: number | readonly number[]): number {
  const v = Array.isArray(value) ? (value[0]! + value[1]!) / 2 : (value as number);
  const u = d.scale === "log" ? Math.log(v / d.lo) / Math.log(d.hi / d.lo) : (v - d.lo) / (d.hi - d.lo);
  return Math.min(Math.max(u, 0), 1);
}

export function paramsAt(dims: readonly Dimension[], u: readonly number[]): SimParamsFile {
  return Object.fromEntries(dims.map((d, i) => [d.key, toValue(d, u[i]!)])) as SimParamsFile;
}

/** One recorded episode as calibration uses it. */
export interface RealEpisode {
  readonly episodeId: number;
  readonly planned: PlannedEpisode;
  readonly inputs: RecordedInputs;
  readonly real: SeriesColumns;
}

/** The simulator scenario with `params` over its `sim:` section. */
export function withParams(scenario: Scenario, params: SimParamsFile): Scenario {
  return { ...scenario, sim: { ...scenario.sim, ...params } as SimParams };
}

/** Runs every episode in the simulator with `params` and adds its error to a fresh {@link SeriesError}. */
export async function simulationError(
  scenario: Scenario,
  episodes: readonly RealEpisode[],
  params: SimParamsFile,
): Promise<SeriesError> {
  const sc = withParams(scenario, params);
  const err = new SeriesError();
  const scales = { sloLatencyMs: sc.slo.latencyMs, maxReplicas: sc.guard.maxReplicas };
  for (const e of episodes) {
    const out = await runPlannedEpisode(sc, e.planned, undefined, e.inputs);
    if (out.status !== "completed") {
      throw new Error(`Episode ${e.episodeId} (${e.planned.key}) failed in the simulator: ${out.error ?? out.status}`);
    }
    const cols = out.trace.columns;
    const sim = Object.fromEntries(SERIES_COLUMNS.map((c) => [c, cols[c]])) as Record<string, ArrayLike<number>>;
    err.add(e.real, { ...sim, length: out.trace.length } as SeriesColumns, scales);
  }
  return err;
}

export interface SearchOptions {
  /** The random points' seed. @default 1 */
  readonly seed?: number;
  /** Loss evaluations in all. @default 600 */
  readonly budget?: number;
  /** Random points before the pattern search. @default 48 */
  readonly samples?: number;
  /** Smallest pattern step, in the unit cube. @default 1/512 */
  readonly minStep?: number;
  /** Called after every evaluation (progress). */
  readonly onEvaluation?: (done: number, budget: number, best: number) => void;
}

export interface SearchResult {
  readonly start: SimParamsFile;
  readonly startLoss: number;
  readonly best: SimParamsFile;
  readonly bestLoss: number;
  readonly evaluations: number;
}

/** Minimises `loss` over `dims` from `start` (unit coordinates); deterministic for a seed. */
export async function search(
  dims: readonly Dimension[],
  start: readonly number[],
  loss: (params: SimParamsFile) => Promise<number>,
  o: SearchOptions = {},
): Promise<SearchResult> {
  const budget = o.budget ?? 600;
  const samples = o.samples ?? 48;
  const minStep = o.minStep ?? 1 / 512;
  const rng = xoroshiro128plus(mixSeed(o.seed ?? 1));
  let evaluations = 0;
  // Equal unit points give equal parameters: remember them (the pattern search revisits).
  const seen = new Map<string, number>();
  const evaluate = async (u: readonly number[]): Promise<number> => {
    const params = paramsAt(dims, u);
    const key = JSON.stringify(params);
    const known = seen.get(key);
    if (known !== undefined) return known;
    const raw = await loss(params);
    // A NaN loss (nothing to compare) must never win.
    const v = Number.isFinite(raw) ? raw : Number.POSITIVE_INFINITY;
    seen.set(key, v);
    evaluations++;
    o.onEvaluation?.(evaluations, budget, Math.min(v, bestLoss));
    return v;
  };
  let best = [...start];
  let bestLoss = Number.POSITIVE_INFINITY;
  const startLoss = await evaluate(start);
  bestLoss = startLoss;
  for (let k = 0; k < samples && evaluations < budget; k++) {
    const u = dims.map(() => uniform01(rng));
    const v = await evaluate(u);
    if (v < bestLoss) [best, bestLoss] = [u, v];
  }
  const clamp = (x: number) => Math.min(Math.max(x, 0), 1);
  const left = () => evaluations < budget;

  // Nelder-Mead from the best point: it follows the valleys where parameters trade off (a
  // higher base latency against a lower gain) that moving one coordinate at a time cannot.
  const nelderMead = async (scale: number): Promise<void> => {
    const n = dims.length;
    const simplex: { u: number[]; v: number }[] = [{ u: [...best], v: bestLoss }];
    for (let i = 0; i < n && left(); i++) {
      const u = [...best];
      u[i] = u[i]! + scale <= 1 ? u[i]! + scale : u[i]! - scale;
      simplex.push({ u, v: await evaluate(u) });
    }
    if (simplex.length < n + 1) return;
    while (left()) {
      simplex.sort((a, b) => a.v - b.v);
      const size = Math.max(
        ...simplex.slice(1).map((p) => Math.max(...p.u.map((x, i) => Math.abs(x - simplex[0]!.u[i]!)))),
      );
      if (size < minStep) break;
      const worst = simplex[n]!;
      const centroid = dims.map((_, i) => simplex.slice(0, n).reduce((a, p) => a + p.u[i]!, 0) / n);
      const along = (t: number) => centroid.map((c, i) => clamp(c + t * (worst.u[i]! - c)));
      const r = along(-1);
      const vr = await evaluate(r);
      if (vr < simplex[0]!.v && left()) {
        const e = along(-2);
        const ve = await evaluate(e);
        simplex[n] = ve < vr ? { u: e, v: ve } : { u: r, v: vr };
      } else if (vr < simplex[n - 1]!.v) {
        simplex[n] = { u: r, v: vr };
      } else if (left()) {
        const c = vr < worst.v ? along(-0.5) : along(0.5);
        const vc = await evaluate(c);
        if (vc < Math.min(vr, worst.v)) {
          simplex[n] = { u: c, v: vc };
        } else {
          // Shrink towards the best vertex.
          for (let k = 1; k <= n && left(); k++) {
            const u = simplex[k]!.u.map((x, i) => simplex[0]!.u[i]! + 0.5 * (x - simplex[0]!.u[i]!));
            simplex[k] = { u, v: await evaluate(u) };
          }
        }
      }
    }
    for (const p of simplex) if (p.v < bestLoss) [best, bestLoss] = [p.u, p.v];
  };

  // Coordinate pattern search: each dimension moved by ±h in turn (an integer step count
  // that Nelder-Mead's continuous moves step over is found here); h halves when nothing helps.
  const pattern = async (h0: number): Promise<void> => {
    let h = h0;
    while (h >= minStep && left()) {
      let moved = false;
      for (let i = 0; i < dims.length && left(); i++) {
        for (const sign of [1, -1]) {
          if (!left()) break;
          const u = [...best];
          u[i] = clamp(u[i]! + sign * h);
          if (u[i] === best[i]) continue;
          const v = await evaluate(u);
          if (v < bestLoss) {
            [best, bestLoss] = [u, v];
            moved = true;
            break;
          }
        }
      }
      if (!moved) h /= 2;
    }
  };

  // Alternate the two from the best point while either still improves it.
  let scale = 0.2;
  while (left()) {
    const before = bestLoss;
    await pattern(0.25);
    await nelderMead(scale);
    if (!(bestLoss < before)) break;
    scale = Math.max(scale / 2, 4 * minStep);
  }
  return { start: paramsAt(dims, start), startLoss, best: paramsAt(dims, best), bestLoss, evaluations };
}
