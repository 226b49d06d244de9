/**
 * The fault schedule of an episode, computed from the seed before the episode starts and
 * never from anything a policy does: every policy in a scenario cell faces the identical
 * sequence of faults (common random numbers).
 *
 * Times:
 * - `fixed`: `offsetS, offsetS + intervalS, offsetS + 2 intervalS, ...` (offsetS absent:
 *   the first fault comes one interval in, at `intervalS`);
 * - `poisson`: a Poisson process, gaps drawn from an exponential of mean `meanIntervalS`
 *   starting from time 0.
 * Only times strictly before `episodeSeconds` are kept.
 *
 * Several fault specs (a combined cell, the scenario file's `{ name, faults: [...] }`):
 * faults arrive one at a time at the cell's frequency, and each injection draws ONE of the
 * listed specs, uniformly. So `[pod-kill, cpu-stress]` at a fixed 300 s gives one fault
 * every 300 s, each a pod-kill or a cpu-stress with probability 1/2, not two faults every
 * 300 s. (List a spec twice to weight it.)
 *
 * A compound injection (`inject: all`, the scenario file's `{ name, faults, inject: all }`)
 * injects EVERY listed spec at each injection time instead: `[pod-kill, cpu-stress]` at a
 * fixed 300 s gives a pod-kill and a cpu-stress together every 300 s (two faults, two ids,
 * each with its own target), so compound incidents can be scripted and replayed.
 *
 * Each injection takes exactly three draws from the seed's `Schedule` stream (gap, spec,
 * target), whatever the frequency kind, so a schedule's targets do not shift when only its
 * times change. A compound injection takes the gap, then one target per spec, in list order.
 */
import { z } from "zod";
import { type FaultInjection, type FaultSpec, type FaultSpecInput, faultSpecSchema } from "./contract.ts";
import { type ParseCache, parseOnce } from "./parse-once.ts";
import { type Rng, Stream, streamRng, uniform01 } from "./rng.ts";

/**
 * How often faults are injected: every `intervalS` seconds starting at `offsetS`, or as a
 * Poisson process with mean gap `meanIntervalS`. Scenario files name levels of it
 * (e.g. `low`, `high`) on their `frequency` axis; generateSchedule below turns it into times.
 */
export const frequencySchema = z.discriminatedUnion("kind", [
  z
    .object({
      kind: z.literal("fixed"),
      intervalS: z.number().positive().describe("Seconds between injections."),
      offsetS: z.number().min(0).optional().describe("Time of the first injection, seconds; defaults to intervalS."),
    })
    .strict(),
  z
    .object({
      kind: z.literal("poisson"),
      meanIntervalS: z.number().positive().describe("Mean seconds between injections (exponential gaps)."),
    })
    .strict(),
]);
export type FrequencyInput = z.input<typeof frequencySchema>;
export type Frequency = z.output<typeof frequencySchema>;

/** A schedule longer than this is refused (a frequency far too high for the episode). */
export const MAX_INJECTIONS = 100_000;

/** How a cell with several specs injects: one drawn spec per injection, or all of them at once. */
export const INJECT_MODES = ["one", "all"] as const;
export type InjectMode = (typeof INJECT_MODES)[number];

export interface ScheduleOptions {
  /** One or more fault specs (input form, defaults applied here); each injection draws one. */
  readonly faults: readonly FaultSpecInput[];
  readonly frequency: FrequencyInput;
  /** Length of the episode, seconds: injections are at times in [0, episodeSeconds). */
  readonly episodeSeconds: number;
  /** The episode seed (the same seed as the simulation's). */
  readonly seed: number;
  /** `one`: each injection draws one spec; `all`: each injection injects every spec. @default "one" */
  readonly inject?: InjectMode;
}

const faultListSchema = z.array(faultSpecSchema).min(1);
// Validated specs and frequencies, by input object (a batch generates one schedule per episode).
const SPECS: ParseCache<FaultSpec[]> = new WeakMap();
const FREQUENCIES: ParseCache<Frequency> = new WeakMap();

/** The fault schedule for `seed`: injections sorted by time, ids 0, 1, 2, ... */
export function generateSchedule(options: ScheduleOptions): FaultInjection[] {
  const specs = parseOnce(SPECS, faultListSchema, options.faults);
  const frequency = parseOnce(FREQUENCIES, frequencySchema, options.frequency);
  const rng = streamRng(options.seed, Stream.Schedule);
  return scheduleFrom(specs, frequency, options.episodeSeconds, rng, options.inject ?? "one");
}

/**
 * {@link generateSchedule} on already-validated specs and frequency, drawing from `rng`,
 * which must be the seed's `Schedule` stream (SimEnv passes the one its reset derived).
 */
export function scheduleFrom(
  specs: readonly FaultSpec[],
  frequency: Frequency,
  episodeSeconds: number,
  rng: Rng,
  inject: InjectMode = "one",
): FaultInjection[] {
  const end = episodeSeconds;
  if (!(end > 0)) {
    throw new Error(`Expected \`episodeSeconds\` to be a positive number, got \`${end}\` (${typeof end})`);
  }
  if (specs.length === 0) throw new Error("Expected at least one fault spec, got none");
  const out: FaultInjection[] = [];
  let t = 0;
  const tooMany = () =>
    new Error(`Expected at most ${MAX_INJECTIONS} injections per episode; lower the fault frequency`);
  for (let k = 0; ; k++) {
    const uGap = uniform01(rng);
    if (frequency.kind === "poisson") t += -frequency.meanIntervalS * Math.log(1 - uGap);
    else t = (frequency.offsetS ?? frequency.intervalS) + k * frequency.intervalS;
    if (inject === "all") {
      if (t >= end) break;
      if (out.length + specs.length > MAX_INJECTIONS) throw tooMany();
      for (const spec of specs) out.push({ id: out.length, atS: t, spec, targetKey: uniform01(rng) });
      continue;
    }
    const uSpec = uniform01(rng);
    const targetKey = uniform01(rng);
    if (t >= end) break;
    if (out.length === MAX_INJECTIONS) throw tooMany();
    const spec = specs[Math.floor(uSpec * specs.length)];
    out.push({ id: out.length, atS: t, spec, targetKey });
  }
  return out;
}
