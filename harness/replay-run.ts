/**
 * Counterfactual replay (issue 16, part 2): re-runs recorded episodes with their recorded
 * faults and load (harness/replay.ts) under another policy, as a new run, and compares the
 * two paired per cell and seed ("what would hpa have done on these faults").
 *
 * The replay is an ordinary run of a scenario derived from the recorded one: the same text
 * with the replay's backend (`sim` or `local`), the policy axis set to the replayed policy,
 * and the fault and frequency axes and seeds narrowed to the selection. Every episode then
 * runs the faults and load its cell and seed recorded (runner.ts `RunOptions.recorded`)
 * instead of generating them, so the runner's parallelism (a testbed's `maxConcurrency`
 * included), progress and store are reused as they are.
 *
 * The same policy on a simulator recording reproduces it row for row; the outcome says how
 * many paired episodes did (`identical`). On the local testbed a replay is a wall-clock run
 * on real processes: the recorded faults are injected at their steps into the pods of their
 * ranks and the recorded load is offered, but what happens then is real and recorded as it
 * happened, so the outcome sets each replayed injection beside its recording (`injections`).
 */
import { isMap, isSeq, parseDocument } from "yaml";
import { type PolicyName, policies } from "../policies/index.ts";
import type { Block, Cell, Table } from "../reports/document.ts";
import { type Arm, Estimator } from "../reports/estimator.ts";
import { formatDifference, formatP, formatValue } from "../reports/format.ts";
import { loadReportData } from "../reports/load.ts";
import { renderMarkdown } from "../reports/markdown.ts";
import { HEADLINE, METRICS, type MetricName } from "../reports/metrics.ts";
import { judge } from "../reports/model.ts";
import { UsageError } from "./cli-errors.ts";
import { openExistingStore, pickRun } from "./cli-store.ts";
import type { RecordedInputs } from "./episode.ts";
import { recordedInputs } from "./replay.ts";
import { type InjectionFidelity, injectionBlocks, injectionFidelity } from "./replay-injections.ts";
import { type SideBySide, sideBySide, sideBySideBlocks } from "./replay-sim-real.ts";
import { type RunReporter, type RunSummary, recordedKey, runScenario } from "./runner.ts";
import { type LoadedScenario, parseScenario } from "./scenario-file.ts";
import type { TraceStore } from "./store.ts";
import { STEP_COLUMN_NAMES } from "./store-schema.ts";

/** Backends a replay runs on (a cluster is not wired for replay). */
export const REPLAY_BACKENDS = ["sim", "local"] as const;
export type ReplayBackend = (typeof REPLAY_BACKENDS)[number];

/** Which recorded episodes to replay; none given: every completed episode of the run. */
export interface ReplaySelection {
  /** One episode, by `episode_id`. */
  readonly episode?: number;
  /** One cell by its labels (every seed, unless `seed` narrows it). */
  readonly cell?: { readonly fault: string; readonly frequency: string; readonly policy: string };
  readonly seed?: number;
}

export interface ReplayOptions {
  /** The recording. */
  readonly db: string;
  /** Default: the latest run in `db` that is not itself a replay. */
  readonly runId?: string;
  readonly select?: ReplaySelection;
  readonly policy: PolicyName;
  readonly params?: unknown;
  /**
   * Where the replay runs: the simulator, or the local testbed (real processes on the wall
   * clock, one episode at a time unless the scenario's `local.parallelEpisodes` says more).
   * @default "sim"
   */
  readonly backend?: ReplayBackend;
  /** Where the replay run is written. @default `db` (a new run beside the recording) */
  readonly dbOut?: string;
  readonly jobs?: number;
  readonly reporters?: readonly RunReporter[];
  readonly signal?: AbortSignal;
  readonly stop?: AbortSignal;
  readonly argv?: readonly string[];
  /** Bootstrap resamples and seed of the intervals. @default 2000, 0 */
  readonly resamples?: number;
  readonly seed?: number;
}

export interface Counterfactual {
  /** The recorded policy label this block compares against. */
  readonly recordedPolicy: string;
  /** Empty: every selected cell. */
  readonly fault?: string;
  readonly frequency?: string;
  readonly rows: readonly {
    readonly metric: MetricName;
    readonly recorded: number;
    readonly replayed: number;
    readonly difference: ReturnType<Estimator["paired"]>[MetricName];
    readonly verdict: "better" | "worse" | null;
  }[];
}

export interface ReplayOutcome {
  readonly sourceRun: string;
  readonly replayRun: string;
  /** The backend the recording ran on, and the replay's. */
  readonly recordedBackend: string;
  readonly backend: ReplayBackend;
  readonly dbOut: string;
  readonly policy: string;
  readonly summary: RunSummary;
  /** Recorded episodes the replay pairs with. */
  readonly recordedEpisodes: number;
  /**
   * Replayed episodes of the recorded policy compared row for row with their recording
   * (simulator recordings only; null when none was comparable).
   */
  readonly identical: { readonly same: number; readonly compared: number; readonly first: string | null } | null;
  /**
   * Episodes replayed under the policy they were recorded with, when one side is real (a
   * local or cluster recording, or a replay on the testbed): recorded against replayed, per
   * series and step by step (null when both are simulator runs; `identical` says it all then).
   */
  readonly sideBySide: SideBySide | null;
  /**
   * A wall-clock replay (local): each recorded fault beside its replayed twin, type, status,
   * step and target rank (null for a simulator replay, which injects exactly as recorded).
   */
  readonly injections: InjectionFidelity | null;
  readonly counterfactuals: readonly Counterfactual[];
  readonly notes: readonly string[];
  readonly markdown: string;
  /** The report as document blocks (reports/document.ts), for the HTML renderer. */
  readonly blocks: readonly Block[];
}

interface RecordedEpisode {
  readonly id: number;
  readonly fault: string;
  readonly frequency: string;
  readonly policy: string;
  readonly seed: number;
  readonly status: string;
}

const RECORDED = "recorded";
const REPLAYED = "replayed";

export async function replayRun(o: ReplayOptions): Promise<ReplayOutcome> {
  const dbOut = o.dbOut ?? o.db;
  const backend = o.backend ?? "sim";
  if (!(REPLAY_BACKENDS as readonly string[]).includes(backend)) {
    throw new UsageError(
      `Expected the replay backend to be one of ${REPLAY_BACKENDS.join(", ")}, got ${JSON.stringify(backend)}`,
    );
  }
  if (!(o.policy in policies)) throw new UsageError(`Unknown policy ${JSON.stringify(o.policy)}`);

  // 1. Read what the selection recorded, then let go of the file (the replay may write to it).
  const source = await openExistingStore(o.db);
  let run: Awaited<ReturnType<typeof pickRun>>;
  let selected: RecordedEpisode[];
  const inputs = new Map<string, RecordedInputs>();
  let loaded: LoadedScenario;
  try {
    run = await pickRun(source, o.runId ?? (await latestRecording(source)));
    const all = (
      await source.query(
        "SELECT episode_id, fault, frequency, policy, seed, status FROM episodes WHERE run_id = ? ORDER BY episode_id",
        [run.runId],
      )
    ).map(
      (r): RecordedEpisode => ({
        id: Number(r.episode_id),
        fault: String(r.fault),
        frequency: String(r.frequency),
        policy: String(r.policy),
        seed: Number(r.seed),
        status: String(r.status),
      }),
    );
    selected = select(all, run.runId, o.select ?? {});
    for (const e of selected) {
      const key = recordedKey(e.fault, e.frequency, e.seed);
      if (!inputs.has(key)) inputs.set(key, await recordedInputs(source, e.id));
    }
    loaded = deriveScenario(run.scenarioText, run.scenarioName, run.runId, selected, o.policy, o.params, backend);
  } finally {
    await source.close();
  }

  // 2. The replay: an ordinary run of the derived scenario on the recorded inputs.
  const summary = await runScenario({
    loaded,
    db: dbOut,
    ...(o.jobs === undefined ? {} : { jobs: o.jobs }),
    recorded: inputs,
    ...(o.reporters ? { reporters: o.reporters } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.stop ? { stop: o.stop } : {}),
    argv: o.argv ?? ["replay", "--db", o.db, "--run", run.runId, "--policy", o.policy, "--backend", backend],
  });

  // 3. Recorded against replayed, paired per cell and seed.
  const same = dbOut === o.db;
  const recStore = await openExistingStore(o.db);
  const repStore = same ? recStore : await openExistingStore(dbOut);
  try {
    const rec = await loadReportData(recStore, { runId: run.runId, charts: false });
    const rep = await loadReportData(repStore, { runId: summary.runId, charts: false });
    const ids = new Set(selected.map((e) => e.id));
    const recEpisodes = rec.episodes.filter((e) => ids.has(e.episodeId));
    const episodes = [
      ...recEpisodes.map((e) => ({ ...e, runId: RECORDED })),
      ...rep.episodes.map((e) => ({ ...e, runId: REPLAYED })),
    ];
    const estimator = new Estimator(episodes, { resamples: o.resamples, seed: o.seed });
    const recordedPolicies = [...new Set(recEpisodes.map((e) => e.policy))];
    const cells = [...new Map(recEpisodes.map((e) => [`${e.fault}\u0000${e.frequency}`, e])).values()];
    const counterfactuals: Counterfactual[] = recordedPolicies.flatMap((policy) => [
      counterfactual(estimator, policy, o.policy, {}),
      ...(cells.length > 1
        ? cells.map((c) => counterfactual(estimator, policy, o.policy, { fault: c.fault, frequency: c.frequency }))
        : []),
    ]);
    // Both on the simulator: the replay must equal the recording. Otherwise one side is real:
    // the same policy's two trajectories side by side measure the simulator's error (real
    // against simulated) or the testbed's run-to-run spread (local against local).
    const bothSim = run.backend === "sim" && backend === "sim";
    const identical = bothSim ? await compareRows(recStore, repStore, selected, summary.runId, o.policy) : null;
    const sbs = bothSim
      ? null
      : await sideBySide(recStore, repStore, await twins(repStore, selected, summary.runId, o.policy), {
          sloLatencyMs: loaded.scenario.slo.latencyMs,
          maxReplicas: loaded.scenario.guard.maxReplicas,
        });
    const injections =
      backend === "sim"
        ? null
        : await injectionFidelity(recStore, repStore, await twins(repStore, selected, summary.runId));
    const noLoad = [...inputs.values()].some((i) => i.loadSeries === undefined);
    const notes = [
      ...(run.backend !== "sim" && backend === "sim"
        ? [
            `The recording ran on backend ${run.backend}; the replay runs its faults and load in the simulator, so differences include the simulator's error, not only the policy's.`,
          ]
        : []),
      ...(backend === "local"
        ? [
            "The replay ran on the local testbed, on the wall clock: each recorded fault was injected after the first step at or past its recorded time, with its recorded spec and target key (into the pod its target key ranks among those running then, the recorded rank when as many run, or skipped when none ran), and the recorded load was offered step by step. Pod start and restart times, Prometheus's scrapes and the machine's load are not replayed: the replay records what really happened, so not even the same policy reproduces the recording row for row, and differences include the testbed's run-to-run spread, not only the policy's.",
            ...(run.backend === "sim"
              ? [
                  `The recording ran in the simulator: its steps are replayed as ${loaded.scenario.stepSeconds} s of wall time each and its load as real requests per second.`,
                ]
              : []),
          ]
        : []),
      ...(noLoad
        ? [
            "Some selected episodes recorded no offered load (load_rps); their replay offers the seed's workload series.",
          ]
        : []),
      ...(recEpisodes.length < selected.length
        ? [`${selected.length - recEpisodes.length} selected episodes are not completed and are left out.`]
        : []),
      backend === "sim"
        ? "Both sides face the same faults (times, specs, targets) and the same offered load, read from the recording."
        : "Both sides face the same fault schedule (times, specs, target keys) and the same offered load, read from the recording; the injections table says how each fault really ran.",
    ];
    const blocks = [
      ...replayDocument(run.runId, summary.runId, dbOut, o.policy, identical, counterfactuals, notes),
      ...(injections === null ? [] : injectionBlocks(injections, backend)),
      ...(sbs === null || sbs.episodes.length === 0 ? [] : sideBySideBlocks(sbs, run.backend, backend)),
    ];
    const markdown = renderMarkdown(blocks, []);
    return {
      sourceRun: run.runId,
      replayRun: summary.runId,
      recordedBackend: run.backend,
      backend,
      dbOut,
      policy: o.policy,
      summary,
      recordedEpisodes: recEpisodes.length,
      identical,
      sideBySide: sbs,
      injections,
      counterfactuals,
      notes,
      markdown,
      blocks,
    };
  } finally {
    await recStore.close();
    if (!same) await repStore.close();
  }
}

/** The latest run that is not itself a replay (a replay is written beside its recording by default). */
async function latestRecording(store: TraceStore): Promise<string | undefined> {
  const runs = await store.listRuns();
  return (runs.filter((r) => r.argv[0] !== "replay").at(-1) ?? runs.at(-1))?.runId;
}

/** The selected completed episodes, or a usage error naming what is missing. */
function select(all: readonly RecordedEpisode[], runId: string, s: ReplaySelection): RecordedEpisode[] {
  if (s.episode !== undefined && s.cell !== undefined) {
    throw new UsageError("Give --episode or --cell, not both");
  }
  let chosen: RecordedEpisode[];
  if (s.episode !== undefined) {
    const e = all.find((x) => x.id === s.episode);
    if (e === undefined) {
      const ids = all.map((x) => x.id);
      throw new UsageError(
        `No episode ${s.episode} in run ${runId}${ids.length > 0 ? `; its episodes are ${ids[0]}..${ids.at(-1)}` : ""}`,
      );
    }
    chosen = [e];
  } else if (s.cell !== undefined) {
    const c = s.cell;
    chosen = all.filter((x) => x.fault === c.fault && x.frequency === c.frequency && x.policy === c.policy);
    if (chosen.length === 0) {
      const cells = [...new Set(all.map((x) => `${x.fault}/${x.frequency}/${x.policy}`))];
      throw new UsageError(`No cell ${c.fault}/${c.frequency}/${c.policy} in run ${runId}; it has ${cells.join(", ")}`);
    }
  } else {
    chosen = [...all];
  }
  if (s.seed !== undefined) {
    const seeds = [...new Set(chosen.map((x) => x.seed))];
    chosen = chosen.filter((x) => x.seed === s.seed);
    if (chosen.length === 0) throw new UsageError(`No seed ${s.seed} in the selection; it has ${seeds.join(", ")}`);
  }
  const done = chosen.filter((x) => x.status === "completed");
  if (done.length === 0) {
    throw new UsageError(
      `No completed episode to replay in run ${runId} (${chosen.map((x) => `episode ${x.id} ${x.status}`).join(", ")})`,
    );
  }
  return done;
}

/**
 * The recorded scenario's text, edited as YAML so the stored run shows exactly what was
 * replayed: the replay's backend, the replayed policy, the selected cells and seeds. A
 * testbed replay keeps the recording's `local:` section (the same deployment, so the same
 * ranks and the same `parallelEpisodes`); a simulator replay drops it.
 */
export function deriveScenario(
  text: string,
  name: string,
  runId: string,
  selected: readonly Pick<RecordedEpisode, "fault" | "frequency" | "seed">[],
  policy: PolicyName,
  params: unknown,
  backend: ReplayBackend = "sim",
): LoadedScenario {
  const parsed = parseScenario(text, `${name}.yaml`);
  if (!parsed.success) {
    throw new UsageError(
      `The scenario stored with run ${runId} no longer parses: ${parsed.errors.map((e) => e.message).join("; ")}`,
    );
  }
  const matrix = parsed.data.scenario.matrix;
  const faults = new Set(selected.map((e) => e.fault));
  const frequencies = new Set(selected.map((e) => e.frequency));
  const doc = parseDocument(text);
  doc.set("backend", backend);
  doc.delete("cluster");
  if (backend !== "local") doc.delete("local");
  doc.set(
    "seeds",
    [...new Set(selected.map((e) => e.seed))].sort((a, b) => a - b),
  );
  const faultAxis = doc.getIn(["matrix", "fault"]);
  if (isSeq(faultAxis)) {
    // Scenario order and axis order are the same list: drop the entries not selected, from the end.
    for (let i = matrix.fault.length - 1; i >= 0; i--) if (!faults.has(matrix.fault[i]!.label)) faultAxis.delete(i);
  }
  const freqAxis = doc.getIn(["matrix", "frequency"]);
  if (isMap(freqAxis)) {
    for (const f of matrix.frequency) if (!frequencies.has(f.label)) freqAxis.delete(f.label);
  }
  doc.setIn(["matrix", "policy"], [params === undefined ? policy : { name: policy, params }]);
  const derived = doc.toString();
  const result = parseScenario(derived, `${name}.replay.yaml`);
  if (!result.success) {
    throw new UsageError(
      `Run ${runId}'s scenario cannot be replayed on backend ${backend}: ${result.errors.map((e) => `${e.message} (line ${e.line})`).join("; ")}`,
    );
  }
  return result.data;
}

function counterfactual(
  estimator: Estimator,
  recordedPolicy: string,
  replayedPolicy: string,
  filter: { fault?: string; frequency?: string },
): Counterfactual {
  const rec: Arm = { runId: RECORDED, policy: recordedPolicy };
  const rep: Arm = { runId: REPLAYED, policy: replayedPolicy };
  const a = estimator.single(rec, filter, HEADLINE);
  const b = estimator.single(rep, filter, HEADLINE);
  const d = estimator.paired(rep, rec, filter, HEADLINE);
  return {
    recordedPolicy,
    ...filter,
    rows: HEADLINE.map((metric) => {
      const v = judge(metric, d[metric]);
      return {
        metric,
        recorded: a[metric].estimate,
        replayed: b[metric].estimate,
        difference: d[metric],
        verdict: v === "a" ? "better" : v === "b" ? "worse" : null,
      };
    }),
  };
}

/**
 * Replayed episodes of the recorded policy against their recordings, every `steps` column
 * (NaN equal to NaN): what "the same policy reproduces a simulator trace" means.
 */
async function compareRows(
  recStore: TraceStore,
  repStore: TraceStore,
  selected: readonly RecordedEpisode[],
  replayRun: string,
  policy: string,
): Promise<ReplayOutcome["identical"]> {
  const mine = selected.filter((e) => e.policy === policy);
  if (mine.length === 0) return null;
  const replayed = new Map(
    (await repStore.query("SELECT episode_id, fault, frequency, seed FROM episodes WHERE run_id = ?", [replayRun])).map(
      (r) => [recordedKey(String(r.fault), String(r.frequency), Number(r.seed)), Number(r.episode_id)],
    ),
  );
  const cols = STEP_COLUMN_NAMES.join(", ");
  const rows = (store: TraceStore, id: number) =>
    store.query(`SELECT ${cols} FROM steps WHERE episode_id = ? ORDER BY step`, [id]);
  let same = 0;
  let first: string | null = null;
  for (const e of mine) {
    const partner = replayed.get(recordedKey(e.fault, e.frequency, e.seed));
    if (partner === undefined) continue;
    const [a, b] = [await rows(recStore, e.id), await rows(repStore, partner)];
    const diff = firstDifference(a, b);
    if (diff === null) same++;
    else first ??= `episode ${e.id} (${e.fault}/${e.frequency}, seed ${e.seed}): ${diff}`;
  }
  return { same, compared: mine.length, first };
}

/**
 * Selected recorded episodes with their replayed twin (same cell and seed); only those
 * recorded under `policy` when given.
 */
async function twins(repStore: TraceStore, selected: readonly RecordedEpisode[], replayRun: string, policy?: string) {
  const replayed = new Map(
    (
      await repStore.query(
        "SELECT episode_id, fault, frequency, seed FROM episodes WHERE run_id = ? AND status = 'completed'",
        [replayRun],
      )
    ).map((r) => [recordedKey(String(r.fault), String(r.frequency), Number(r.seed)), Number(r.episode_id)]),
  );
  return selected.flatMap((e) => {
    const twin =
      policy === undefined || e.policy === policy ? replayed.get(recordedKey(e.fault, e.frequency, e.seed)) : undefined;
    return twin === undefined ? [] : [{ recorded: e.id, replayed: twin, ...e }];
  });
}

function firstDifference(a: Record<string, unknown>[], b: Record<string, unknown>[]): string | null {
  if (a.length !== b.length) return `${a.length} recorded steps, ${b.length} replayed`;
  for (let i = 0; i < a.length; i++) {
    for (const c of STEP_COLUMN_NAMES) {
      const [x, y] = [a[i]![c], b[i]![c]];
      if (!Object.is(x, y) && !(Number.isNaN(x) && Number.isNaN(y))) {
        return `step ${i}, ${c}: recorded ${String(x)}, replayed ${String(y)}`;
      }
    }
  }
  return null;
}

const plain = (text: string): Cell => ({ text });

function counterfactualTable(cfs: readonly Counterfactual[], replayed: string, withCell: boolean): Table {
  return {
    header: [
      ...(withCell ? ["fault", "frequency"] : []),
      "metric",
      "recorded",
      `replayed (${replayed})`,
      "difference",
      "n pairs",
      "verdict",
    ],
    align: `${withCell ? "ll" : ""}lrrrrl`,
    rows: cfs.flatMap((cf) =>
      cf.rows.map((r) => [
        ...(withCell ? [plain(cf.fault ?? ""), plain(cf.frequency ?? "")] : []),
        plain(METRICS[r.metric].title),
        plain(formatValue(r.metric, r.recorded)),
        plain(formatValue(r.metric, r.replayed)),
        plain(`${formatDifference(r.metric, r.difference)} ${formatP(r.difference.p)}`),
        plain(String(r.difference.n)),
        r.verdict === null
          ? plain("")
          : ({ text: r.verdict, tone: r.verdict === "better" ? "win" : "fail" } satisfies Cell),
      ]),
    ),
  };
}

function replayDocument(
  sourceRun: string,
  replayRun: string,
  dbOut: string,
  policy: string,
  identical: ReplayOutcome["identical"],
  cfs: readonly Counterfactual[],
  notes: readonly string[],
): Block[] {
  const blocks: Block[] = [
    { kind: "heading", level: 1, text: `Replay: ${policy} on the faults and load of run ${sourceRun}` },
    {
      kind: "table",
      table: {
        header: ["", "run", "file"],
        align: "lll",
        rows: [
          [plain("recorded"), plain(sourceRun), plain("")],
          [plain("replayed"), plain(replayRun), plain(dbOut)],
        ],
      },
    },
    {
      kind: "paragraph",
      text: `Difference = replayed - recorded, paired by cell and seed, with its 95% bootstrap interval over seeds and sign-flip p-value. "better"/"worse" (for ${policy}) only when the interval excludes 0 and p < 0.05.`,
    },
  ];
  if (identical !== null) {
    blocks.push({
      kind: "paragraph",
      text: `Row for row: ${identical.same} of ${identical.compared} replayed episodes of ${policy} equal their recording in every steps column.${identical.first ? ` First difference: ${identical.first}.` : ""}`,
    });
  }
  blocks.push(...notes.map((text): Block => ({ kind: "note", text })));
  for (const recorded of [...new Set(cfs.map((c) => c.recordedPolicy))]) {
    const mine = cfs.filter((c) => c.recordedPolicy === recorded);
    const overall = mine.filter((c) => c.fault === undefined);
    const cells = mine.filter((c) => c.fault !== undefined);
    blocks.push(
      { kind: "heading", level: 2, text: `${policy} against recorded ${recorded}` },
      { kind: "table", table: counterfactualTable(overall, policy, false) },
    );
    if (cells.length > 0) {
      blocks.push({
        kind: "details",
        summary: "Every cell",
        blocks: [{ kind: "table", table: counterfactualTable(cells, policy, true) }],
      });
    }
  }
  return blocks;
}
