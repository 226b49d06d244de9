/**
 * How closely a wall-clock replay (backend local) followed the recorded schedule, fault by
 * fault: on the simulator a replayed fault is injected exactly as recorded, on real
 * processes it is injected when the loop reaches its step, into whichever pod holds its rank
 * then, or skipped when none runs. So the replay's own events are read back and set beside
 * the recording's: type, status, the loop step after which it was injected (the loop injects
 * only on step boundaries, so "the same step" is what honouring a recorded time means), the
 * time difference, and the target's rank among the running pods.
 */
import type { Block, Cell, Table } from "../reports/document.ts";
import type { TraceStore } from "./store.ts";

/** One fault of a recorded schedule as it ran on one side. */
export interface InjectionSide {
  /** injected, skipped or unreached (the `fault_spans` view's status), or "absent". */
  readonly status: string;
  readonly type: string;
  /** Seconds since the episode's start; NaN unless injected. */
  readonly atS: number;
  /** The step after whose action it was injected; -1 unless injected. */
  readonly step: number;
  /** Rank of the pod hit among the running pods, oldest first; -1 for none. */
  readonly rank: number;
}

export interface InjectionPair {
  readonly recordedEpisode: number;
  readonly replayedEpisode: number;
  readonly faultId: number;
  readonly recorded: InjectionSide;
  readonly replayed: InjectionSide;
  /** Same type and status, and when injected the same step and rank. */
  readonly match: boolean;
  /** What differs, empty when `match`. */
  readonly differs: string;
}

export interface InjectionFidelity {
  readonly pairs: readonly InjectionPair[];
  readonly matched: number;
  /** Largest |replayed - recorded| injection time over faults injected on both sides, s (NaN: none). */
  readonly maxShiftS: number;
}

interface EpisodePair {
  readonly recorded: number;
  readonly replayed: number;
}

const ABSENT: InjectionSide = { status: "absent", type: "", atS: Number.NaN, step: -1, rank: -1 };

async function sides(store: TraceStore, episodeId: number): Promise<Map<number, InjectionSide>> {
  const times = (await store.query("SELECT time_s FROM steps WHERE episode_id = ? ORDER BY step", [episodeId])).map(
    (r) => Number(r.time_s),
  );
  const rows = await store.query(
    "SELECT fault_id, fault_type, status, injected_at, target_rank FROM fault_spans WHERE episode_id = ? ORDER BY fault_id",
    [episodeId],
  );
  return new Map(
    rows.map((r) => {
      const atS = r.injected_at === null ? Number.NaN : Number(r.injected_at);
      return [
        Number(r.fault_id),
        {
          status: String(r.status),
          type: String(r.fault_type),
          atS,
          step: Number.isNaN(atS) ? -1 : stepOf(times, atS),
          rank: r.target_rank === null ? -1 : Number(r.target_rank),
        },
      ];
    }),
  );
}

/** The last step observed at or before `t` (injections follow their step's observation). */
export function stepOf(stepTimes: readonly number[], t: number): number {
  let k = -1;
  for (let i = 0; i < stepTimes.length && stepTimes[i]! <= t; i++) k = i;
  return k;
}

export function comparePair(rec: InjectionSide, rep: InjectionSide): string {
  const d: string[] = [];
  if (rec.type !== rep.type) d.push(`type ${rec.type || "-"} / ${rep.type || "-"}`);
  if (rec.status !== rep.status) d.push(`${rec.status} / ${rep.status}`);
  else if (rec.status === "injected") {
    if (rec.step !== rep.step) d.push(`step ${rec.step} / ${rep.step}`);
    if (rec.rank !== rep.rank) d.push(`rank ${rec.rank} / ${rep.rank}`);
  }
  return d.join(", ");
}

/** Every recorded fault of every pair beside its replayed twin (by fault id). */
export async function injectionFidelity(
  recStore: TraceStore,
  repStore: TraceStore,
  episodes: readonly EpisodePair[],
): Promise<InjectionFidelity> {
  const pairs: InjectionPair[] = [];
  let maxShiftS = Number.NaN;
  for (const e of episodes) {
    const [rec, rep] = [await sides(recStore, e.recorded), await sides(repStore, e.replayed)];
    for (const id of [...new Set([...rec.keys(), ...rep.keys()])].sort((a, b) => a - b)) {
      const r = rec.get(id) ?? ABSENT;
      const p = rep.get(id) ?? ABSENT;
      const differs = comparePair(r, p);
      const shift = Math.abs(p.atS - r.atS);
      if (Number.isFinite(shift)) maxShiftS = Number.isNaN(maxShiftS) ? shift : Math.max(maxShiftS, shift);
      pairs.push({
        recordedEpisode: e.recorded,
        replayedEpisode: e.replayed,
        faultId: id,
        recorded: r,
        replayed: p,
        match: differs === "",
        differs,
      });
    }
  }
  return { pairs, matched: pairs.filter((p) => p.match).length, maxShiftS };
}

const plain = (text: string): Cell => ({ text });
const side = (s: InjectionSide) =>
  s.status === "injected" ? `${s.atS.toFixed(2)} s (step ${s.step}), rank ${s.rank}` : s.status;

/** The injections section of a wall-clock replay's report. */
export function injectionBlocks(f: InjectionFidelity, replayBackend: string): Block[] {
  const table: Table = {
    header: [
      "recorded episode",
      "fault",
      "type",
      "recorded",
      `replayed (${replayBackend})`,
      "shift (s)",
      "as recorded",
    ],
    align: "rrlllrl",
    rows: f.pairs.map((p) => [
      plain(String(p.recordedEpisode)),
      plain(String(p.faultId)),
      plain(p.recorded.type || p.replayed.type),
      plain(side(p.recorded)),
      plain(side(p.replayed)),
      plain(Number.isFinite(p.replayed.atS - p.recorded.atS) ? (p.replayed.atS - p.recorded.atS).toFixed(2) : "-"),
      p.match ? plain("yes") : ({ text: `no: ${p.differs}`, tone: "fail" } satisfies Cell),
    ]),
  };
  return [
    { kind: "heading", level: 2, text: "Injections: recorded against replayed" },
    {
      kind: "paragraph",
      text: `${f.matched} of ${f.pairs.length} recorded faults ran as recorded (same type and status; when injected, after the same step and into the pod of the same rank among the running pods)${Number.isFinite(f.maxShiftS) ? `; the largest shift in injection time was ${f.maxShiftS.toFixed(2)} s` : ""}.`,
    },
    { kind: "table", table },
  ];
}
