/**
 * The cluster load generator's settings, read from its container's environment, and the one
 * rule that turns them into a rate: the base rate times `LOAD_FACTOR` until `LOAD_FACTOR_UNTIL`
 * (a Unix time, seconds), the base rate after it. A load-spike is a patch of these variables
 * (cluster/chaos/resources.ts `loadSpikePatch`); the end time lets the spike stop on time even
 * when nobody is left to revert the patch.
 */
import { z } from "zod";

/** An env value that may be empty: empty and unset are the same. */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === "" || v === undefined ? undefined : v), schema.optional());

export const loadgenOptionsSchema = z
  .object({
    /** Where every request goes: the demo Service's work route. */
    TARGET_URL: z.url().default("http://demo/api/work"),
    /** Base offered rate, requests per second (the scenario's `workload.baseRps`). */
    RATE_RPS: z.coerce.number().min(0).default(20),
    /** Multiplier on the base rate while a spike lasts. @default 1 */
    LOAD_FACTOR: optional(z.coerce.number().positive()).transform((f) => f ?? 1),
    /** Unix time, seconds, when the spike ends; unset: it lasts until the variable changes. */
    LOAD_FACTOR_UNTIL: optional(z.coerce.number().nonnegative()),
    /** Seconds between the JSON lines that report what clients saw. @default 10 */
    REPORT_EVERY_S: z.coerce.number().positive().default(10),
  })
  .strip();
export type LoadgenOptions = z.output<typeof loadgenOptionsSchema>;

/** The rate to offer at `nowS` (Unix seconds), and whether the spike is on. */
export function rateAt(o: LoadgenOptions, nowS: number): { rps: number; spiking: boolean } {
  const spiking = o.LOAD_FACTOR !== 1 && (o.LOAD_FACTOR_UNTIL === undefined || nowS < o.LOAD_FACTOR_UNTIL);
  return { rps: o.RATE_RPS * (spiking ? o.LOAD_FACTOR : 1), spiking };
}
