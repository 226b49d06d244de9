/**
 * Recorded schedules (issue 16, part 1): every fault an episode scheduled is stored with its
 * event (`events.fault`: id, atS, spec, targetKey), so an episode's schedule can be read
 * back and replayed exactly, under the same policy (the same trace, row for row, on the
 * simulator) or another one (a counterfactual on the same faults).
 */
import { z } from "zod";
import { type FaultInjection, faultSpecSchema } from "./core/contract.ts";
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
  return rows.map((r) => {
    const parsed = injectionSchema.safeParse(JSON.parse(String(r.fault)));
    if (!parsed.success) {
      throw new Error(
        `Episode ${episodeId}, fault ${String(r.fault_id)}: stored fault is not a schedule entry: ${parsed.error.message}`,
      );
    }
    return parsed.data;
  });
}
