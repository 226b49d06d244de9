/**
 * Recorded inputs (issue 16, part 1): every fault an episode scheduled is stored with its
 * event (`events.fault`: id, atS, spec, targetKey), and the offered load before load spikes
 * with every step (`steps.load_rps`), so an episode's faults and load can be read back and
 * replayed exactly, under the same policy (the same trace, row for row, on the simulator)
 * or another one (a counterfactual on the same faults and load).
 */
import { z } from "zod";
import { type FaultInjection, faultSpecSchema } from "./core/contract.ts";
import { HarnessError } from "./core/errors.ts";
import type { RecordedInputs } from "./episode.ts";
import type { TraceStore } from "./store.ts";

const injectionSchema = z.object({
  id: z.number().int().min(0),
  atS: z.number().min(0),
  spec: faultSpecSchema,
  targetKey: z.number().min(0).lt(1),
});

/** The schedule episode `episodeId` ran (injected, skipped and unreached faults), by fault id. */
export async function recordedSchedule(store: TraceStore, episodeId: number): Promise<FaultInjection[]> {
  const rows = await store.query(
    "SELECT fault_id, fault FROM fault_spans WHERE episode_id = ? AND fault IS NOT NULL ORDER BY fault_id",
    [episodeId],
  );
  const schedule = rows.map((r) => {
    const parsed = injectionSchema.safeParse(JSON.parse(String(r.fault)));
    if (!parsed.success) {
      throw new HarnessError(
        "recording_incomplete",
        `Episode ${episodeId}, fault ${String(r.fault_id)}: stored fault is not a schedule entry: ${parsed.error.message}`,
      );
    }
    return parsed.data;
  });
  // The loop injects in schedule order; ids follow time, but a compound injection shares one.
  return schedule.sort((a, b) => a.atS - b.atS || a.id - b.id);
}

/**
 * The offered load episode `episodeId` recorded, one rate per step, or null when the
 * backend did not drive the load (every value NaN). A series with a gap is refused: a
 * replay would have to invent the missing rates.
 */
export async function recordedLoad(store: TraceStore, episodeId: number): Promise<Float64Array | null> {
  const rows = await store.query("SELECT step, load_rps FROM steps WHERE episode_id = ? ORDER BY step", [episodeId]);
  if (rows.length === 0) return null;
  const out = Float64Array.from(rows, (r) => Number(r.load_rps));
  const known = out.filter((x) => Number.isFinite(x)).length;
  if (known === 0) return null;
  if (known < out.length) {
    const first = rows.findIndex((r) => !Number.isFinite(Number(r.load_rps)));
    throw new HarnessError(
      "recording_incomplete",
      `Episode ${episodeId}: the recorded load has no value at step ${String(rows[first]!.step)} (${out.length - known} of ${out.length} steps missing)`,
    );
  }
  return out;
}

/** The schedule and the load of a recorded episode, as a replay takes them. */
export async function recordedInputs(store: TraceStore, episodeId: number): Promise<RecordedInputs> {
  const schedule = await recordedSchedule(store, episodeId);
  const load = await recordedLoad(store, episodeId);
  return load === null ? { schedule } : { schedule, loadSeries: load };
}
