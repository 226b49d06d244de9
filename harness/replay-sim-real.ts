/**
 * A real trace (local testbed, cluster) replayed in the simulator under the policy it was
 * recorded with, shown side by side (issue 16, part 2): per fault type, the per-series error
 * of the simulated trajectory against the recorded one (harness/sim-real.ts: latency, error
 * rate, ready pods, CPU, SLO), and per episode every step's recorded and simulated values.
 * This is what `harness calibrate` minimises; here it measures the simulator as it is run.
 * The same tables serve a replay on the local testbed (`--backend local`): there they set
 * two real runs side by side, or a simulator recording beside its real replay.
 */
import type { Block, Cell, Table } from "../reports/document.ts";
import { SERIES, SERIES_TITLES, type SeriesColumns, SeriesError, type SeriesName } from "./sim-real.ts";
import type { TraceStore } from "./store.ts";

export interface SideBySideEpisode {
  readonly recordedEpisode: number;
  readonly replayedEpisode: number;
  readonly fault: string;
  readonly frequency: string;
  readonly policy: string;
  readonly seed: number;
  /** Per step: time, then recorded and simulated values of each compared column. */
  readonly steps: readonly {
    readonly step: number;
    readonly timeS: number;
    readonly missing: boolean;
    readonly latencyMs: readonly [number, number];
    readonly errorRate: readonly [number, number];
    readonly ready: readonly [number, number];
    readonly cpu: readonly [number, number];
    readonly sloOk: readonly [number, number];
  }[];
}

export interface SideBySide {
  /** Per fault type (and "all"), the mean absolute error of each series and the steps counted. */
  readonly errors: readonly {
    readonly fault: string;
    readonly pairs: number;
    readonly mae: Readonly<Record<SeriesName, number>>;
    readonly steps: number;
  }[];
  readonly episodes: readonly SideBySideEpisode[];
}

interface Pair {
  readonly recorded: number;
  readonly replayed: number;
  readonly fault: string;
  readonly frequency: string;
  readonly policy: string;
  readonly seed: number;
}

const COLUMNS = "step, time_s, latency_ms, error_rate, ready_replicas, cpu, slo_ok, missing";

async function columns(
  store: TraceStore,
  episodeId: number,
): Promise<SeriesColumns & { step: number[]; time_s: number[] }> {
  const rows = await store.query(`SELECT ${COLUMNS} FROM steps WHERE episode_id = ? ORDER BY step`, [episodeId]);
  const col = (c: string) => rows.map((r) => (typeof r[c] === "boolean" ? (r[c] ? 1 : 0) : Number(r[c])));
  return {
    length: rows.length,
    step: col("step"),
    time_s: col("time_s"),
    latency_ms: col("latency_ms"),
    error_rate: col("error_rate"),
    ready_replicas: col("ready_replicas"),
    cpu: col("cpu"),
    slo_ok: col("slo_ok"),
    missing: col("missing"),
  };
}

/** Recorded against replayed for each pair of the same policy, cell and seed. */
export async function sideBySide(
  recStore: TraceStore,
  repStore: TraceStore,
  pairs: readonly Pair[],
  scales: { readonly sloLatencyMs: number; readonly maxReplicas: number },
): Promise<SideBySide> {
  const byFault = new Map<string, { err: SeriesError; pairs: number }>();
  const all = { err: new SeriesError(), pairs: 0 };
  const episodes: SideBySideEpisode[] = [];
  for (const p of pairs) {
    const real = await columns(recStore, p.recorded);
    const sim = await columns(repStore, p.replayed);
    const f = byFault.get(p.fault) ?? { err: new SeriesError(), pairs: 0 };
    byFault.set(p.fault, f);
    f.err.add(real, sim, scales);
    f.pairs++;
    all.err.add(real, sim, scales);
    all.pairs++;
    const n = Math.max(real.length, sim.length);
    const at = (c: ArrayLike<number>, i: number) => (i < c.length ? c[i]! : Number.NaN);
    episodes.push({
      recordedEpisode: p.recorded,
      replayedEpisode: p.replayed,
      fault: p.fault,
      frequency: p.frequency,
      policy: p.policy,
      seed: p.seed,
      steps: Array.from({ length: n }, (_, i) => ({
        step: i,
        timeS: at(real.time_s, i),
        missing: at(real.missing, i) !== 0,
        latencyMs: [at(real.latency_ms, i), at(sim.latency_ms, i)] as const,
        errorRate: [at(real.error_rate, i), at(sim.error_rate, i)] as const,
        ready: [at(real.ready_replicas, i), at(sim.ready_replicas, i)] as const,
        cpu: [at(real.cpu, i), at(sim.cpu, i)] as const,
        sloOk: [at(real.slo_ok, i), at(sim.slo_ok, i)] as const,
      })),
    });
  }
  const row = (fault: string, x: { err: SeriesError; pairs: number }) => ({
    fault,
    pairs: x.pairs,
    mae: Object.fromEntries(SERIES.map((s) => [s, x.err.mean(s)])) as Record<SeriesName, number>,
    steps: x.err.n.latency,
  });
  return {
    errors: [...[...byFault].map(([fault, x]) => row(fault, x)), ...(byFault.size > 1 ? [row("all", all)] : [])],
    episodes,
  };
}

const plain = (text: string): Cell => ({ text });
const num = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : "-");

/**
 * The side-by-side section of the replay report: `backend` is the recording's, `replayBackend`
 * the replay's. A simulated replay measures the simulator's error; a replay on the testbed
 * itself measures how far two real runs of the same policy, faults and load lie apart.
 */
export function sideBySideBlocks(s: SideBySide, backend: string, replayBackend = "sim"): Block[] {
  const other = replayBackend === "sim" ? "simulated" : `replayed (${replayBackend})`;
  const short = replayBackend === "sim" ? "simulated" : "replayed";
  const errors: Table = {
    header: ["fault", "pairs", "steps", ...SERIES.map((x) => SERIES_TITLES[x])],
    align: `lrr${"r".repeat(SERIES.length)}`,
    rows: s.errors.map((e) => [
      plain(e.fault),
      plain(String(e.pairs)),
      plain(String(e.steps)),
      ...SERIES.map((x) => plain(num(e.mae[x], 3))),
    ]),
  };
  const pair = (v: readonly [number, number], digits: number) => plain(`${num(v[0], digits)} / ${num(v[1], digits)}`);
  return [
    { kind: "heading", level: 2, text: `Recorded (${backend}) against ${other}, step by step` },
    {
      kind: "paragraph",
      text:
        replayBackend === "sim"
          ? `The same policy on the same faults and load: the simulator's error. Mean absolute error per series (each on [0, 1], harness/sim-real.ts; steps whose recorded observation was incomplete are left out). \`harness calibrate\` fits the simulator to make these small.`
          : `The same policy on the same faults and load, run again on the ${replayBackend} testbed: ${backend === "sim" ? "the simulator's error against real processes" : "how far two real runs lie apart (pod timings, scrapes, the machine's load)"}. Mean absolute error per series (each on [0, 1], harness/sim-real.ts; steps whose recorded observation was incomplete are left out).`,
    },
    { kind: "table", table: errors },
    ...s.episodes.map(
      (e): Block => ({
        kind: "details",
        summary: `Episode ${e.recordedEpisode} (${e.fault}/${e.frequency}/${e.policy}, seed ${e.seed}): recorded / ${short}`,
        blocks: [
          {
            kind: "table",
            table: {
              header: ["step", "t (s)", "latency ms", "error rate", "ready", "CPU", "SLO"],
              align: "rrrrrrr",
              rows: e.steps.map((x) => [
                plain(`${x.step}${x.missing ? " (missing)" : ""}`),
                plain(num(x.timeS, 1)),
                pair(x.latencyMs, 0),
                pair(x.errorRate, 3),
                pair(x.ready, 0),
                pair(x.cpu, 2),
                plain(`${x.sloOk[0] ? "ok" : "broken"} / ${x.sloOk[1] ? "ok" : "broken"}`),
              ]),
            },
          },
        ],
      }),
    ),
  ];
}
