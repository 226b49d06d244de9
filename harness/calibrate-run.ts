/**
 * `harness calibrate` end to end (issue 16, part 4): reads a recorded run (the local testbed's,
 * or any), fits the simulator's parameters to it on some seeds (harness/calibrate.ts), checks
 * the fit on the held-out seeds, writes the parameters file a scenario loads
 * (`sim: { paramsFile }`), and reports:
 * - the fit error per series (harness/sim-real.ts), before and after, on the fitted and the
 *   held-out seeds;
 * - the parameters, before and after;
 * - per fault type, the real MTTR, uptime and cost beside the simulator's before and after
 *   calibration, with 95% seed-bootstrap intervals, on the held-out seeds, and whether the
 *   calibrated MTTR is within ±20% of the real one (or why it cannot be said).
 *
 * The simulator's episodes of the last table are ordinary runs of the recorded scenario on
 * `backend: sim` (before: its own `sim:` section; after: with the fitted parameters), on the
 * recorded faults and load, written to `simDb`; the metrics are the report's SQL views
 * (reports/load.ts) and intervals (reports/estimator.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import type { Interval } from "../reports/bootstrap.ts";
import type { Block, Cell, Table } from "../reports/document.ts";
import { type Arm, Estimator } from "../reports/estimator.ts";
import { formatInterval } from "../reports/format.ts";
import { loadReportData } from "../reports/load.ts";
import { renderMarkdown } from "../reports/markdown.ts";
import type { Scenario } from "../scenarios/schema.ts";
import { simParamsSchema } from "../sim/params.ts";
import { formatSimParamsFile, type SimParamsFile } from "../sim/params-file.ts";
import { workloadSeries } from "../sim/workload.ts";
import {
  type Dimension,
  dimensionsFor,
  type RealEpisode,
  type SearchOptions,
  search,
  simulationError,
  toUnit,
  withParams,
} from "./calibrate.ts";
import { UsageError } from "./cli-errors.ts";
import { openExistingStore, pickRun } from "./cli-store.ts";
import { generateSchedule } from "./core/schedule.ts";
import type { RecordedInputs } from "./episode.ts";
import { episodeKey, expandPlan } from "./plan.ts";
import { recordedInputs } from "./replay.ts";
import { recordedKey, runScenario } from "./runner.ts";
import { type LoadedScenario, parseScenario } from "./scenario-file.ts";
import { SERIES, SERIES_COLUMNS, SERIES_TITLES, type SeriesColumns } from "./sim-real.ts";

/** The calibrated MTTR counts as matching the real one within this relative distance. */
export const MTTR_TOLERANCE = 0.2;

export interface CalibrateOptions {
  /** The recording (real traces). */
  readonly db: string;
  /** @default the latest run in `db` */
  readonly runId?: string;
  /** Seeds kept out of the fit and used to check it. @default the later half of the run's seeds */
  readonly holdoutSeeds?: readonly number[];
  /** Parameters to fit (harness/calibrate.ts CALIBRATION_SPACE keys). @default all */
  readonly fit?: readonly string[];
  /**
   * Where the fit starts, and the "before" of the report: `scenario`, the recorded scenario's
   * own `sim:` values; `defaults`, the simulator's defaults (sim/params.ts) for the fitted
   * parameters. @default "scenario"
   */
  readonly from?: "scenario" | "defaults";
  readonly search?: SearchOptions;
  /** Where the simulator runs of the fault table go. @default a temporary file, removed */
  readonly simDb?: string;
  /** @default 2000 */
  readonly resamples?: number;
  readonly jobs?: number;
}

export interface SeriesRow {
  readonly series: (typeof SERIES)[number];
  readonly fitBefore: number;
  readonly fitAfter: number;
  readonly holdoutBefore: number;
  readonly holdoutAfter: number;
}

export interface FaultRow {
  readonly fault: string;
  readonly n: number;
  readonly real: Readonly<Record<"mttr" | "uptime" | "cost", Interval>>;
  readonly before: Readonly<Record<"mttr" | "uptime" | "cost", Interval>>;
  readonly after: Readonly<Record<"mttr" | "uptime" | "cost", Interval>>;
  /** (after - real) / real of the MTTR estimates; null when either has none. */
  readonly mttrError: number | null;
  /** Within ±{@link MTTR_TOLERANCE}, or why not said. */
  readonly verdict: string;
  /**
   * Where the calibrated simulator is furthest from the real trajectories of this fault type
   * (its checked episodes): the series with the largest error, and that error.
   */
  readonly worstSeries: { readonly series: (typeof SERIES)[number]; readonly error: number } | null;
}

export interface CalibrationOutcome {
  readonly runId: string;
  readonly backend: string;
  readonly scenario: string;
  readonly fitSeeds: readonly number[];
  readonly holdoutSeeds: readonly number[];
  readonly episodes: { readonly fit: number; readonly holdout: number };
  readonly dimensions: readonly Dimension[];
  /** The scenario's own values of the fitted parameters, and the fitted ones. */
  readonly before: SimParamsFile;
  readonly after: SimParamsFile;
  readonly loss: {
    readonly fitBefore: number;
    readonly fitAfter: number;
    readonly holdoutBefore: number;
    readonly holdoutAfter: number;
  };
  readonly evaluations: number;
  readonly series: readonly SeriesRow[];
  readonly faults: readonly FaultRow[];
  /** The parameters file's text (write it with `--out`). */
  readonly paramsFile: string;
  readonly notes: readonly string[];
  readonly markdown: string;
  readonly blocks: readonly Block[];
}

interface Recorded extends RealEpisode {
  readonly seed: number;
}

export async function calibrate(o: CalibrateOptions): Promise<CalibrationOutcome> {
  const dims = (() => {
    try {
      return dimensionsFor(o.fit);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  })();

  // 1. The recording: its scenario on the simulator, its completed episodes with their inputs and series.
  const store = await openExistingStore(o.db);
  let run: Awaited<ReturnType<typeof pickRun>>;
  let loaded: LoadedScenario;
  const episodes: Recorded[] = [];
  try {
    run = await pickRun(store, o.runId);
    loaded = simScenario(run.scenarioText, run.scenarioName, run.runId, {});
    const planned = new Map(expandPlan(loaded.scenario).map((p) => [p.key, p]));
    const rows = await store.query(
      "SELECT episode_id, fault, frequency, policy, seed FROM episodes WHERE run_id = ? AND status = 'completed' ORDER BY episode_id",
      [run.runId],
    );
    for (const r of rows) {
      const id = Number(r.episode_id);
      const key = episodeKey(String(r.fault), String(r.frequency), String(r.policy), Number(r.seed));
      const p = planned.get(key);
      if (p === undefined)
        throw new UsageError(`Run ${run.runId}, episode ${id}: ${key} is not in the run's own scenario`);
      const steps = await store.query(
        `SELECT ${SERIES_COLUMNS.join(", ")} FROM steps WHERE episode_id = ? ORDER BY step`,
        [id],
      );
      const real = Object.fromEntries(
        SERIES_COLUMNS.map((c) => [c, Float64Array.from(steps, (s) => Number(s[c]))]),
      ) as Record<string, Float64Array>;
      episodes.push({
        episodeId: id,
        planned: p,
        seed: Number(r.seed),
        inputs: await recordedInputs(store, id),
        real: { ...real, length: steps.length } as SeriesColumns,
      });
    }
  } finally {
    await store.close();
  }
  if (episodes.length === 0) throw new UsageError(`Run ${run.runId} has no completed episode to calibrate against`);

  // 2. Fitted and held-out seeds.
  const seeds = [...new Set(episodes.map((e) => e.seed))].sort((a, b) => a - b);
  const holdout = o.holdoutSeeds ?? (seeds.length >= 2 ? seeds.slice(Math.ceil(seeds.length / 2)) : []);
  for (const s of holdout) {
    if (!seeds.includes(s))
      throw new UsageError(
        `Held-out seed ${s} has no completed episode in run ${run.runId}; it has ${seeds.join(", ")}`,
      );
  }
  const fitSeeds = seeds.filter((s) => !holdout.includes(s));
  if (fitSeeds.length === 0) throw new UsageError("Every seed is held out: nothing left to fit on");
  const fitEps = episodes.filter((e) => fitSeeds.includes(e.seed));
  const holdEps = episodes.filter((e) => holdout.includes(e.seed));

  // 3. The fit.
  const defaults = simParamsSchema.parse({});
  const origin = o.from === "defaults" ? defaults : loaded.scenario.sim;
  const before = Object.fromEntries(dims.map((d) => [d.key, origin[d.key]])) as SimParamsFile;
  const scenario = withParams(loaded.scenario, before);
  const fitBefore = await simulationError(scenario, fitEps, {});
  const result = await search(
    dims,
    dims.map((d) => toUnit(d, before[d.key] as number | readonly number[])),
    async (params) => (await simulationError(scenario, fitEps, params)).loss(),
    o.search,
  );
  // The search's start is the scenario's values as the cube can hold them; the scenario itself may still be better.
  const after = result.bestLoss <= fitBefore.loss() ? result.best : before;
  const fitAfter = await simulationError(scenario, fitEps, after);
  const holdBefore = holdEps.length > 0 ? await simulationError(scenario, holdEps, {}) : null;
  const holdAfter = holdEps.length > 0 ? await simulationError(scenario, holdEps, after) : null;
  const series: SeriesRow[] = SERIES.map((s) => ({
    series: s,
    fitBefore: fitBefore.mean(s),
    fitAfter: fitAfter.mean(s),
    holdoutBefore: holdBefore?.mean(s) ?? Number.NaN,
    holdoutAfter: holdAfter?.mean(s) ?? Number.NaN,
  }));
  const loss = {
    fitBefore: fitBefore.loss(),
    fitAfter: fitAfter.loss(),
    holdoutBefore: holdBefore?.loss() ?? Number.NaN,
    holdoutAfter: holdAfter?.loss() ?? Number.NaN,
  };

  // 4. Per fault type, on the held-out seeds (all seeds when none is held out).
  const checkSeeds = holdout.length > 0 ? holdout : fitSeeds;
  const checked = episodes.filter((e) => checkSeeds.includes(e.seed));
  const worst = new Map<string, FaultRow["worstSeries"]>();
  for (const fault of new Set(checked.map((e) => e.planned.fault.label))) {
    const err = await simulationError(
      scenario,
      checked.filter((e) => e.planned.fault.label === fault),
      after,
    );
    const top = SERIES.map((x) => ({ series: x, error: err.mean(x) }))
      .filter((x) => Number.isFinite(x.error))
      .sort((a, b) => b.error - a.error)[0];
    worst.set(fault, top ?? null);
  }
  const faults = (await faultTable(o, run, episodes, before, after, checkSeeds)).map((f) => ({
    ...f,
    worstSeries: worst.get(f.fault) ?? null,
  }));

  const notes: string[] = [];
  if (holdout.length === 0)
    notes.push("One seed only: nothing is held out, so the fault table checks the fit on the seeds it was fitted on.");
  if (run.backend === "sim") notes.push(`The recording ran on the simulator itself (a synthetic target).`);
  const paramsFile = formatSimParamsFile(after, [
    `Simulator parameters fitted by harness calibrate to run ${run.runId} (${run.backend}, scenario ${run.scenarioName}),`,
    `seeds ${fitSeeds.join(", ")}; held out ${holdout.length > 0 ? holdout.join(", ") : "none"}. Search seed ${o.search?.seed ?? 1}, ${result.evaluations} evaluations.`,
    `Loss (mean of the per-series mean absolute errors, harness/sim-real.ts): fitted seeds ${fmt(loss.fitBefore)} -> ${fmt(loss.fitAfter)}, held out ${fmt(loss.holdoutBefore)} -> ${fmt(loss.holdoutAfter)}.`,
    "Load it from a scenario with  sim: { paramsFile: <this file> }  (its values replace the section's).",
  ]);
  const base = {
    runId: run.runId,
    backend: run.backend,
    scenario: run.scenarioName,
    fitSeeds,
    holdoutSeeds: holdout,
    episodes: { fit: fitEps.length, holdout: holdEps.length },
    dimensions: dims,
    before,
    after,
    loss,
    evaluations: result.evaluations,
    series,
    faults,
    paramsFile,
    notes,
  };
  const blocks = calibrationDocument(base);
  return { ...base, blocks, markdown: renderMarkdown(blocks, []) };
}

/** The recorded scenario's text on backend sim, with `params` written into its `sim:` section. */
export function simScenario(text: string, name: string, runId: string, params: SimParamsFile): LoadedScenario {
  const doc = parseDocument(text);
  doc.set("backend", "sim");
  doc.delete("local");
  doc.delete("cluster");
  for (const [k, v] of Object.entries(params)) doc.setIn(["sim", k], v);
  const r = parseScenario(doc.toString({ lineWidth: 0, flowCollectionPadding: false }), `${name}.yaml`);
  if (!r.success) {
    throw new UsageError(
      `The scenario stored with run ${runId} does not run on the simulator: ${r.errors.map((e) => e.message).join("; ")}`,
    );
  }
  return r.data;
}

const METRIC_KEYS = ["mttr", "uptime", "cost"] as const;

/** Real against the simulator before and after, per fault type, on `seeds`. */
async function faultTable(
  o: CalibrateOptions,
  run: Awaited<ReturnType<typeof pickRun>>,
  episodes: readonly Recorded[],
  before: SimParamsFile,
  after: SimParamsFile,
  seeds: readonly number[],
): Promise<FaultRow[]> {
  const tmp = o.simDb === undefined ? mkdtempSync(join(tmpdir(), "calibrate-")) : null;
  const simDb = o.simDb ?? join(tmp!, "sim.duckdb");
  try {
    const simRun = async (params: SimParamsFile): Promise<string> => {
      const loaded = simScenario(run.scenarioText, run.scenarioName, run.runId, params);
      const summary = await runScenario({
        loaded,
        db: simDb,
        plan: { seeds },
        recorded: inputsFor(loaded.scenario, episodes, seeds),
        ...(o.jobs === undefined ? {} : { jobs: o.jobs }),
        argv: ["calibrate", "--db", o.db, "--run", run.runId],
      });
      return summary.runId;
    };
    const beforeRun = await simRun(before);
    const afterRun = await simRun(after);
    const realStore = await openExistingStore(o.db);
    const simStore = await openExistingStore(simDb);
    try {
      const pick = async (store: typeof realStore, runId: string, tag: string) =>
        (await loadReportData(store, { runId, charts: false })).episodes
          .filter((e) => seeds.includes(e.seed))
          .map((e) => ({ ...e, runId: tag }));
      const rows = [
        ...(await pick(realStore, run.runId, "real")),
        ...(await pick(simStore, beforeRun, "before")),
        ...(await pick(simStore, afterRun, "after")),
      ];
      // Every policy pooled into one arm; the policy moves into the cell so pairs stay within a policy.
      const pooled = rows.map((e) => ({ ...e, policy: "all", frequency: `${e.frequency}\u0000${e.policy}` }));
      const est = new Estimator(pooled, { resamples: o.resamples, seed: 0 });
      const arm = (runId: string): Arm => ({ runId, policy: "all" });
      const faults = [...new Set(rows.map((e) => e.fault))];
      return faults.map((fault): FaultRow => {
        const real = est.single(arm("real"), { fault }, METRIC_KEYS);
        const b = est.single(arm("before"), { fault }, METRIC_KEYS);
        const a = est.single(arm("after"), { fault }, METRIC_KEYS);
        const r = real.mttr.estimate;
        const s = a.mttr.estimate;
        const known = (x: number) => Number.isFinite(x);
        const mttrError = known(r) && known(s) && r > 0 ? (s - r) / r : null;
        const verdict =
          mttrError !== null
            ? Math.abs(mttrError) <= MTTR_TOLERANCE
              ? "within ±20%"
              : `off by ${mttrError > 0 ? "+" : ""}${(100 * mttrError).toFixed(0)}%`
            : `no MTTR to compare: real ${recoveries(est.rows(arm("real"), { fault }))}, sim ${recoveries(est.rows(arm("after"), { fault }))}`;
        return {
          fault,
          n: est.rows(arm("real"), { fault }).length,
          real,
          before: b,
          after: a,
          mttrError,
          verdict,
          worstSeries: null,
        };
      });
    } finally {
      await realStore.close();
      await simStore.close();
    }
  } finally {
    if (tmp !== null) rmSync(tmp, { recursive: true, force: true });
  }
}

/** Why a side has no MTTR: no incident at all, or none that recovered within its episode. */
function recoveries(rows: readonly { incidents: number; closedIncidents: number }[]): string {
  const incidents = rows.reduce((a, r) => a + r.incidents, 0);
  const closed = rows.reduce((a, r) => a + r.closedIncidents, 0);
  if (incidents === 0) return "no incident";
  return `${incidents} incident(s), ${closed} recovered within the episode`;
}

/** Recorded faults and load for every cell and seed of the plan (the seed's own where nothing completed). */
function inputsFor(
  scenario: Scenario,
  episodes: readonly Recorded[],
  seeds: readonly number[],
): Map<string, RecordedInputs> {
  const out = new Map<string, RecordedInputs>();
  for (const e of episodes) {
    const key = recordedKey(e.planned.fault.label, e.planned.frequency.label, e.seed);
    if (!out.has(key)) out.set(key, e.inputs);
  }
  for (const p of expandPlan(scenario, { seeds })) {
    const key = recordedKey(p.fault.label, p.frequency.label, p.seed);
    if (out.has(key)) continue;
    out.set(key, {
      schedule: generateSchedule({
        faults: p.fault.faults,
        frequency: p.frequency.frequency,
        inject: p.fault.inject,
        episodeSeconds: scenario.durationS,
        seed: p.seed,
      }),
      loadSeries: workloadSeries(scenario.workload, scenario.stepSeconds, p.seed, scenario.steps),
    });
  }
  return out;
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : "-");
const plain = (text: string): Cell => ({ text });
const show = (v: unknown): string =>
  Array.isArray(v) ? `[${v.join(", ")}]` : typeof v === "number" ? String(Number(v.toPrecision(4))) : String(v);

function calibrationDocument(c: Omit<CalibrationOutcome, "markdown" | "blocks">): Block[] {
  const seriesTable: Table = {
    header: ["series", "fitted seeds before", "after", "held-out seeds before", "after"],
    align: "lrrrr",
    rows: [
      ...c.series.map((r) => [
        plain(SERIES_TITLES[r.series]),
        plain(fmt(r.fitBefore)),
        plain(fmt(r.fitAfter)),
        plain(fmt(r.holdoutBefore)),
        plain(fmt(r.holdoutAfter)),
      ]),
      [
        plain("loss (mean of the above)"),
        plain(fmt(c.loss.fitBefore)),
        plain(fmt(c.loss.fitAfter)),
        plain(fmt(c.loss.holdoutBefore)),
        plain(fmt(c.loss.holdoutAfter)),
      ],
    ],
  };
  const paramsTable: Table = {
    header: ["parameter", "before", "after", "search bounds"],
    align: "lrrl",
    rows: c.dimensions.map((d) => [
      plain(d.key),
      plain(show(c.before[d.key])),
      plain(show(c.after[d.key])),
      plain(`${d.lo} .. ${d.hi}${d.scale === "log" ? " (log)" : d.scale === "steps" ? " steps" : ""}`),
    ]),
  };
  const faultTable: Table = {
    header: [
      "fault",
      "episodes",
      "MTTR real",
      "MTTR sim before",
      "MTTR sim after",
      "MTTR after vs real",
      "uptime real",
      "uptime before",
      "uptime after",
      "cost real",
      "cost after",
      "largest series error after",
    ],
    align: "lrrrrlrrrrrl",
    rows: c.faults.map((f) => [
      plain(f.fault),
      plain(String(f.n)),
      plain(formatInterval("mttr", f.real.mttr)),
      plain(formatInterval("mttr", f.before.mttr)),
      plain(formatInterval("mttr", f.after.mttr)),
      {
        text: f.verdict,
        tone: f.verdict === "within ±20%" ? "win" : f.mttrError !== null ? "fail" : undefined,
      } as Cell,
      plain(formatInterval("uptime", f.real.uptime)),
      plain(formatInterval("uptime", f.before.uptime)),
      plain(formatInterval("uptime", f.after.uptime)),
      plain(formatInterval("cost", f.real.cost)),
      plain(formatInterval("cost", f.after.cost)),
      plain(f.worstSeries === null ? "-" : `${SERIES_TITLES[f.worstSeries.series]}: ${fmt(f.worstSeries.error)}`),
    ]),
  };
  const checked =
    c.holdoutSeeds.length > 0 ? `held-out seeds ${c.holdoutSeeds.join(", ")}` : `seeds ${c.fitSeeds.join(", ")}`;
  return [
    { kind: "heading", level: 1, text: `Calibration of the simulator against run ${c.runId} (${c.backend})` },
    {
      kind: "paragraph",
      text: `Scenario ${c.scenario}. Fitted on seeds ${c.fitSeeds.join(", ")} (${c.episodes.fit} episodes), checked on ${c.holdoutSeeds.length > 0 ? `seeds ${c.holdoutSeeds.join(", ")} (${c.episodes.holdout} episodes)` : "no held-out seed"}; ${c.evaluations} loss evaluations. Each recorded episode is replayed in the simulator under its recorded policy on its recorded faults and load; the loss is the mean of the per-series mean absolute errors below (each series on [0, 1]).`,
    },
    ...c.notes.map((text): Block => ({ kind: "note", text })),
    { kind: "heading", level: 2, text: "Fit error per series" },
    { kind: "table", table: seriesTable },
    { kind: "heading", level: 2, text: "Parameters" },
    { kind: "table", table: paramsTable },
    { kind: "heading", level: 2, text: `Per fault type, ${checked} (all policies, 95% seed-bootstrap intervals)` },
    {
      kind: "paragraph",
      text: `"MTTR after vs real": the calibrated simulator's MTTR against the real one; within ±${100 * MTTR_TOLERANCE}% counts as a match. "Largest series error after": where the calibrated simulator's trajectories are furthest from the real ones for that fault type (mean absolute error on [0, 1]), i.e. what it does not reproduce.`,
    },
    { kind: "table", table: faultTable },
  ];
}
