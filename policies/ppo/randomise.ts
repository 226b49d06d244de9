/**
 * Domain randomisation for PPO training (issue 17): each training episode draws, from its
 * seed alone, its own simulator parameters, load level and shape, replica counts and fault
 * parameters, and sometimes a compound fault cell (two faults injected at once), so the agent
 * does not overfit one deployment. Ranges are uniform and inclusive; integer ranges draw
 * integers. Off by default (`randomise: null` in the PPO options) so that `npm run train`
 * still reproduces the committed model; `policies/ppo/configs/randomised.yaml` turns it on.
 *
 * Seeded: the draws come from their own xoroshiro128+ stream keyed by the episode seed and
 * a salt (never the simulator's workload, schedule or dynamics streams), so a seed names a
 * whole randomised episode, a checkpoint restores it, and the same options give the same
 * episodes.
 *
 * `trainingSupport(o)` says what training can draw, so the held-out generalisation suite
 * (scenarios/generalization.yaml) can be checked to lie outside it.
 */
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { z } from "zod";
import {
  FAULT_TYPES,
  type FaultSpec,
  type FaultSpecInput,
  type FaultType,
  faultSpecSchema,
} from "../../harness/core/contract.ts";
import type { GuardLimits } from "../../harness/core/guard.ts";
import { mixSeed, type Rng, uniform01 } from "../../harness/core/rng.ts";
import { type Frequency, generateSchedule } from "../../harness/core/schedule.ts";
import type { SimEnvConfig } from "../../sim/env.ts";
import { type SimParamsInput, simParamsSchema, workloadSchema } from "../../sim/params.ts";
import type { PpoOptions } from "./options.ts";

const range = z
  .tuple([z.number(), z.number()])
  .refine(([lo, hi]) => lo <= hi, { message: "Expected [min, max] with min <= max" });
const intRange = z
  .tuple([z.number().int().min(1), z.number().int().min(1)])
  .refine(([lo, hi]) => lo <= hi, { message: "Expected [min, max] with min <= max" });

/** Simulator parameters that may be randomised (scalars of sim/params.ts). */
export const RANDOMISABLE_SIM = [
  "podCapacityRps",
  "idleCpu",
  "baseLatencyMs",
  "latencyGain",
  "errorGain",
  "smoothing",
  "overloadCrashProb",
  "backoffInitialS",
  "memoryLoadGain",
] as const;
type SimKey = (typeof RANDOMISABLE_SIM)[number];

export const randomiseSchema = z
  .object({
    sim: z
      .partialRecord(z.enum(RANDOMISABLE_SIM), range)
      .default({
        podCapacityRps: [80, 120],
        idleCpu: [0.01, 0.05],
        baseLatencyMs: [40, 60],
        latencyGain: [4, 8],
        errorGain: [0.03, 0.08],
        smoothing: [0.35, 0.65],
        overloadCrashProb: [0.02, 0.08],
        backoffInitialS: [5, 15],
        memoryLoadGain: [0.05, 0.15],
      })
      .describe("Simulator parameters (sim/params.ts), each drawn uniformly from its [min, max]."),
    baseRps: range.default([100, 300]).describe("Mean offered load, rps."),
    noise: range.default([0.02, 0.08]).describe("Workload noise (relative standard deviation)."),
    amplitude: range.default([0.15, 0.45]).describe("Workload swing: diurnal amplitude, random-walk bound."),
    periodS: range.default([1500, 2500]).describe("Diurnal period, seconds."),
    walkStep: range.default([0.01, 0.03]).describe("Random-walk step."),
    initialReplicas: intRange.default([2, 5]).describe("Replicas at reset (clamped to the episode's maximum)."),
    maxReplicas: intRange
      .default([8, 12])
      .describe("The deployment's and the guard's replica ceiling (obs-v1 divides counts by it)."),
    spikeFactor: range.default([1.5, 2.5]).describe("load-spike factor."),
    stressLoad: range.default([0.4, 0.8]).describe("cpu-stress extra load, 0..1."),
    delayMs: range.default([200, 400]).describe("network-delay added latency, ms."),
    leakRatePerMin: range.default([0.05, 0.15]).describe("memory-leak growth per minute, share of the limit."),
    durationScale: range.default([0.7, 1.3]).describe("Multiplier on every fault's default duration."),
    compound: z
      .number()
      .min(0)
      .max(1)
      .default(0.2)
      .describe(
        "Share of episodes whose injections put two different fault types in at once (inject: all) instead of the drawn cell.",
      ),
  })
  .strict();
export type RandomiseInput = z.input<typeof randomiseSchema>;
export type Randomise = z.output<typeof randomiseSchema>;

/** Salt of the randomisation stream: apart from the simulator's streams of the same seed. */
const SALT = 0x0d0a_17d5;

function rngFor(seed: number): Rng {
  return xoroshiro128plus(mixSeed(seed ^ SALT));
}

function draw(rng: Rng, [lo, hi]: readonly [number, number]): number {
  return lo + (hi - lo) * uniform01(rng);
}

function drawInt(rng: Rng, [lo, hi]: readonly [number, number]): number {
  return Math.min(hi, lo + Math.floor((hi - lo + 1) * uniform01(rng)));
}

const DEFAULT_SPECS: Record<FaultType, FaultSpec> = Object.fromEntries(
  FAULT_TYPES.map((type) => [type, faultSpecSchema.parse({ type })]),
) as Record<FaultType, FaultSpec>;

/** A fault type with randomised parameters (defaults where a parameter is not randomised). */
function randomSpec(type: FaultType, r: Randomise, rng: Rng): FaultSpecInput {
  const d = DEFAULT_SPECS[type];
  const scale = draw(rng, r.durationScale);
  switch (d.type) {
    case "pod-kill":
      return { type: "pod-kill" };
    case "pod-failure":
      return { type: "pod-failure", durationS: d.durationS * scale };
    case "cpu-stress":
      return { type: "cpu-stress", durationS: d.durationS * scale, load: draw(rng, r.stressLoad) };
    case "memory-leak":
      return { type: "memory-leak", ratePerMin: draw(rng, r.leakRatePerMin) };
    case "network-delay":
      return { type: "network-delay", durationS: d.durationS * scale, delayMs: draw(rng, r.delayMs) };
    case "load-spike":
      return { type: "load-spike", durationS: d.durationS * scale, factor: draw(rng, r.spikeFactor) };
  }
}

/** What one randomised episode runs on: the simulator's config and the guard's limits. */
export interface RandomisedEpisode {
  readonly config: SimEnvConfig;
  readonly limits: GuardLimits;
  /** Short description for logs: the drawn load, replicas and whether faults are compound. */
  readonly label: string;
}

/**
 * The randomised episode of `seed` on top of a training cell's config (its fault types,
 * frequency and workload pattern). Pure: the same seed and inputs give an equal result.
 */
export function randomiseEpisode(
  seed: number,
  base: SimEnvConfig,
  guardLimits: GuardLimits,
  r: Randomise,
): RandomisedEpisode {
  const rng = rngFor(seed);
  // A fixed number of draws in a fixed order, whatever is used, so adding a range later
  // does not shift the others of the same seed.
  const sim: Record<string, number> = {};
  for (const k of RANDOMISABLE_SIM) {
    const u = uniform01(rng);
    const rg = r.sim[k as SimKey];
    if (rg !== undefined) sim[k] = rg[0] + (rg[1] - rg[0]) * u;
  }
  const maxReplicas = Math.max(guardLimits.minReplicas, drawInt(rng, r.maxReplicas));
  const initialReplicas = Math.min(maxReplicas, Math.max(guardLimits.minReplicas, drawInt(rng, r.initialReplicas)));
  const baseWorkload = workloadSchema.parse(base.workload ?? {});
  const workload = {
    ...baseWorkload,
    baseRps: draw(rng, r.baseRps),
    noise: draw(rng, r.noise),
    amplitude: draw(rng, r.amplitude),
    periodS: draw(rng, r.periodS),
    walkStep: draw(rng, r.walkStep),
  };
  const compound = uniform01(rng) < r.compound;
  const first = Math.floor(uniform01(rng) * FAULT_TYPES.length);
  const second = (first + 1 + Math.floor(uniform01(rng) * (FAULT_TYPES.length - 1))) % FAULT_TYPES.length;
  const baseTypes = (base.faults ?? []).map((f) => f.type);
  const types: FaultType[] = compound ? [FAULT_TYPES[first]!, FAULT_TYPES[second]!] : baseTypes;
  const faults = types.map((t) => randomSpec(t, r, rng));

  const params: SimParamsInput = {
    ...base.params,
    ...sim,
    minReplicas: guardLimits.minReplicas,
    maxReplicas,
    initialReplicas,
  };
  const limits: GuardLimits = { ...guardLimits, maxReplicas };
  const label = `rps ${workload.baseRps.toFixed(0)}, replicas ${initialReplicas}/${maxReplicas}${compound ? `, compound ${types.join("+")}` : ""}`;
  if (base.frequency === undefined || faults.length === 0) {
    return { config: { ...base, params, workload }, limits, label };
  }
  if (!compound) return { config: { ...base, params, workload, faults }, limits, label };
  // SimEnv draws one spec per injection; a compound cell injects all at once, so its
  // schedule is generated here, from the same seed's schedule stream SimEnv would use.
  const p = simParamsSchema.parse(params);
  const schedule = generateSchedule({
    faults,
    frequency: base.frequency,
    episodeSeconds: p.episodeSteps * p.stepSeconds,
    seed,
    inject: "all",
  });
  const { faults: _f, frequency: _q, ...rest } = base;
  return { config: { ...rest, params, workload, schedule }, limits, label };
}

// ---------------------------------------------------------------------------
// What training can draw

/** One cell of a scenario, as the support check reads it. */
export interface CellDescription {
  readonly sim: {
    readonly initialReplicas: number;
    readonly minReplicas: number;
    readonly maxReplicas: number;
  } & Record<string, unknown>;
  readonly workload: { readonly pattern: string; readonly baseRps: number } & Record<string, unknown>;
  readonly stepSeconds: number;
  readonly steps: number;
  readonly guard: { readonly minIntervalS: number; readonly maxReplicas: number; readonly minReplicas: number };
  readonly fault: { readonly label: string; readonly faults: readonly FaultSpec[]; readonly inject: "one" | "all" };
  readonly frequency: Frequency;
}

export interface TrainingSupport {
  /** Why a cell lies outside what training draws (empty: training can draw it). */
  outside(cell: CellDescription): string[];
  /** A fault type's default spec. */
  defaultSpec(type: FaultType): FaultSpec;
}

const SIM_DEFAULTS = simParamsSchema.parse({});
const WORKLOAD_DEFAULTS = workloadSchema.parse({});

function within(x: number, rg: readonly [number, number] | undefined, fallback: number): boolean {
  const eps = 1e-9 * Math.max(1, Math.abs(x));
  return rg === undefined ? Math.abs(x - fallback) <= eps : x >= rg[0] - eps && x <= rg[1] + eps;
}

/** The support of training's episode distribution under options `o` (randomised or not). */
export function trainingSupport(o: PpoOptions): TrainingSupport {
  const r = o.randomise;
  const specInside = (s: FaultSpec): boolean => {
    const d = DEFAULT_SPECS[s.type] as Record<string, number | string>;
    const scale = r?.durationScale;
    const dur = (x: number, def: number) =>
      scale === undefined ? x === def : x >= def * scale[0] - 1e-9 && x <= def * scale[1] + 1e-9;
    switch (s.type) {
      case "pod-kill":
        return true;
      case "pod-failure":
        return dur(s.durationS, d.durationS as number);
      case "cpu-stress":
        return dur(s.durationS, d.durationS as number) && within(s.load, r?.stressLoad, d.load as number);
      case "memory-leak":
        return within(s.ratePerMin, r?.leakRatePerMin, d.ratePerMin as number);
      case "network-delay":
        return dur(s.durationS, d.durationS as number) && within(s.delayMs, r?.delayMs, d.delayMs as number);
      case "load-spike":
        return dur(s.durationS, d.durationS as number) && within(s.factor, r?.spikeFactor, d.factor as number);
    }
  };
  return {
    defaultSpec: (type) => DEFAULT_SPECS[type],
    outside(c) {
      const why: string[] = [];
      if (c.stepSeconds !== SIM_DEFAULTS.stepSeconds) why.push(`stepSeconds ${c.stepSeconds}`);
      if (c.steps !== o.episodeSteps) why.push(`steps ${c.steps}`);
      if (!(o.workloads as readonly string[]).includes(c.workload.pattern)) why.push(`pattern ${c.workload.pattern}`);
      const w = c.workload as Record<string, unknown>;
      for (const k of ["baseRps", "noise", "amplitude", "periodS", "walkStep"] as const) {
        const v = w[k];
        if (typeof v === "number" && !within(v, r?.[k], WORKLOAD_DEFAULTS[k])) why.push(`workload.${k} ${v}`);
      }
      const sim = c.sim as Record<string, unknown>;
      for (const [k, def] of Object.entries(SIM_DEFAULTS)) {
        const v = sim[k];
        if (typeof v !== "number" || k === "stepSeconds" || k === "episodeSteps") continue;
        if (k === "maxReplicas") {
          if (!within(v, r?.maxReplicas, o.guard.maxReplicas)) why.push(`maxReplicas ${v}`);
        } else if (k === "minReplicas") {
          if (v !== o.guard.minReplicas) why.push(`minReplicas ${v}`);
        } else if (k === "initialReplicas") {
          if (!within(v, r?.initialReplicas, def as number)) why.push(`initialReplicas ${v}`);
        } else if (!within(v, r?.sim[k as SimKey], def as number)) {
          why.push(`sim.${k} ${v}`);
        }
      }
      if (c.guard.minIntervalS !== o.guard.minIntervalS) why.push(`guard.minIntervalS ${c.guard.minIntervalS}`);
      if (c.guard.maxReplicas !== (c.sim.maxReplicas as number) && r !== null) {
        why.push(`guard.maxReplicas ${c.guard.maxReplicas} below the deployment's`);
      }
      if (r === null && c.guard.maxReplicas !== o.guard.maxReplicas)
        why.push(`guard.maxReplicas ${c.guard.maxReplicas}`);

      const specs = c.fault.faults;
      const types = new Set(specs.map((s) => s.type));
      // A named training cell (options.faults { name, faults, inject }) with the same specs and mode.
      const named = o.faults.some(
        (f) =>
          typeof f === "object" && f.inject === c.fault.inject && JSON.stringify(f.faults) === JSON.stringify(specs),
      );
      if (!named && !specs.every(specInside)) why.push(`fault parameters of ${c.fault.label}`);
      const single = c.fault.inject === "one" && types.size === 1 && o.faults.includes(specs[0]!.type);
      const combined = c.fault.inject === "one" && types.size === FAULT_TYPES.length && o.faults.includes("combined");
      const pair = c.fault.inject === "all" && specs.length === 2 && types.size === 2 && (r?.compound ?? 0) > 0;
      if (!single && !combined && !pair && !named) why.push(`fault cell ${c.fault.label}`);

      const f = JSON.stringify(c.frequency);
      if (!o.frequencies.some((q) => JSON.stringify(q) === f)) why.push(`frequency ${f}`);
      return why;
    },
  };
}
