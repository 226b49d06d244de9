/**
 * Everything a report reads from a trace store, in one pass of SQL: the run context, one
 * row per completed episode (episode_metrics x slo_breakdown), the cell_metrics rows, the
 * timelines of a few chosen episodes, and training curves when the file has them. Rows
 * are checked with zod on the way in: a file written by another version must fail here,
 * with the column named, not as a NaN in a chart.
 */
import { z } from "zod";
import { HarnessError } from "../harness/core/errors.ts";
import type { RunRow } from "../harness/core/runs.ts";
import { parseScenario } from "../harness/scenario-file.ts";
import type { EpisodeRow } from "./metrics.ts";
import type { TraceReader } from "./reader.ts";
import type { CellMetricsRow } from "./views.ts";

const num = z.number();
const numOrNull = z.number().nullable();

const episodeRowSchema = z.object({
  episodeId: num,
  runId: z.string(),
  fault: z.string(),
  frequency: z.string(),
  policy: z.string(),
  seed: num,
  uptime: numOrNull,
  replicaSeconds: num,
  incidents: num,
  closedIncidents: num,
  censoredIncidents: num,
  ttrSTotal: num,
  observedTtrSTotal: num,
  unattributedDowntimeS: num,
  faults: num,
  absorbedFaults: num,
  recoveredFaults: num,
  faultTtrSTotal: num,
  actions: num,
  restarts: num,
  scaleUps: num,
  scaleDowns: num,
  drains: num,
  unnecessaryActions: num,
  harmfulActions: numOrNull,
  refused: num,
  flaps: num,
  regressions: num,
  return: num,
  breached: numOrNull,
  noReady: numOrNull,
  latencyOver: numOrNull,
  errorsOver: numOrNull,
}) satisfies z.ZodType<EpisodeRow>;

const EPISODES_SQL = `SELECT m.episode_id, m.run_id, m.fault, m.frequency, m.policy, m.seed, m.uptime,
    m.replica_seconds, m.incidents, m.closed_incidents, m.censored_incidents, m.ttr_s_total,
    m.observed_ttr_s_total, m.unattributed_downtime_s, m.faults, m.absorbed_faults, m.recovered_faults,
    m.fault_ttr_s_total, m.actions, m.restarts, m.scale_ups, m.scale_downs, m.drains, m.unnecessary_actions,
    m.harmful_actions, m.refused,
    m.flaps, m.regressions, m.return, m.breached, m.no_ready, m.latency_over, m.errors_over
  FROM episode_metrics m
  WHERE m.run_id = ? AND m.status = 'completed'
  ORDER BY m.fault, m.frequency, m.policy, m.seed, m.episode_id`;

/** One step of a timeline (step_facts columns). */
export interface TimelineStep {
  readonly time: number;
  readonly cpu: number;
  readonly latencyMs: number;
  readonly errorRate: number;
  readonly desired: number;
  readonly ready: number;
  readonly sloOk: boolean;
  /** Action id applied at this step, or 0. */
  readonly applied: number;
  /** Action id proposed and refused at this step, or 0. */
  readonly refused: number;
}

export interface FaultSpan {
  readonly faultId: number;
  readonly from: number;
  /** When the fault's effect ended (see `end`). */
  readonly to: number;
  /**
   * What `to` is: `ended`, the fault's live span ended (a `fault-ended` event: its effect was
   * gone); `cleared`, the fault was cleared (a trace written before `fault-ended` existed);
   * `open`, neither happened before the episode's end, which `to` is then.
   */
  readonly end: "ended" | "cleared" | "open";
  readonly detail: string;
}

/**
 * Why the policy proposed an action at one step: the exact Shapley attributions the
 * controller stored with the decision (a `decision-explained` event, harness/controller/explainer.ts).
 */
export interface DecisionWhy {
  readonly time: number;
  /** Action id the policy proposed. */
  readonly action: number;
  /** The model's probability of that action, and its mean over the background. */
  readonly output: number;
  readonly base: number;
  /** The largest attributions by |phi|: the feature, its value in the state, its share of output - base. */
  readonly top: readonly { readonly feature: string; readonly value: number; readonly phi: number }[];
}

const explanationSchema = z.object({
  output: num,
  base: num,
  top: z.array(z.object({ feature: z.string(), value: num, phi: num })),
});

/** The paired baseline of a timeline: the same run, cell and seed under the `none` policy. */
export interface TimelineBaseline {
  readonly episodeId: number;
  readonly policy: string;
  readonly steps: readonly TimelineStep[];
}

/** One annotated episode: the chosen one for a fault label. */
export interface Timeline {
  readonly episodeId: number;
  readonly fault: string;
  readonly frequency: string;
  readonly policy: string;
  readonly seed: number;
  readonly sloLatencyMs: number;
  readonly sloErrorRate: number;
  readonly endS: number;
  readonly steps: readonly TimelineStep[];
  readonly faults: readonly FaultSpan[];
  /** The paired `none` episode (same faults and load), when the run has it and the policy is another. */
  readonly baseline: TimelineBaseline | null;
  /** Stored explanations of its decisions, in time order (a controller's run; empty for a matrix run). */
  readonly explanations: readonly DecisionWhy[];
}

/** The policy whose episode is every other policy's counterfactual: it never acts. */
export const BASELINE_POLICY = "none";

/** Rows of a `training_updates` table (written by the RL trainer): see reports/README.md. */
export interface TrainingCurves {
  /** The x column: env steps (or the update number when there is none). */
  readonly x: string;
  /** The column that tells training runs apart, or null for one run. */
  readonly series: string | null;
  /** Numeric columns charted against x. */
  readonly metrics: readonly string[];
  readonly rows: readonly Record<string, unknown>[];
  /**
   * A readable name per series value ("PPO seed 1, 60,000 steps"), from `training_runs` when
   * the file has it and the names tell the runs apart; else empty (the charts show the ids).
   */
  readonly seriesNames: Readonly<Record<string, string>>;
}

export interface ReportData {
  readonly run: RunRow;
  /** The run's scenario, parsed again from the text stored with it (gates, axis order). */
  readonly scenario: ReturnType<typeof parseScenario>;
  /** The scenario file the run was started with (`scenarios/quickstart.yaml`): what gate errors point at. */
  readonly scenarioFile: string;
  readonly episodes: readonly EpisodeRow[];
  readonly cells: readonly CellMetricsRow[];
  /** Axis labels with data, in scenario order (then any others, sorted). */
  readonly policies: readonly string[];
  readonly faults: readonly string[];
  readonly frequencies: readonly string[];
  readonly timelines: readonly Timeline[];
  readonly training: TrainingCurves | null;
  /**
   * Pod faults of two policies' episodes of the same cell and seed (every pair of policies),
   * and how many of them hit the same target rank (or were skipped alike): the fault
   * schedule's targets should not depend on the policy.
   */
  readonly targetAgreement: { readonly same: number; readonly pairs: number };
}

const TARGET_AGREEMENT_SQL = `WITH t AS (
    SELECT e.fault, e.frequency, e.seed, e.policy, f.fault_id, f.status, f.target_rank
    FROM fault_spans f JOIN episodes e USING (episode_id)
    WHERE e.run_id = ? AND e.status = 'completed' AND f.status <> 'unreached' AND f.fault_type <> 'load-spike'
  )
  SELECT count(*) FILTER (a.status = b.status AND a.target_rank IS NOT DISTINCT FROM b.target_rank) AS same,
    count(*) AS pairs
  FROM t a JOIN t b ON a.fault = b.fault AND a.frequency = b.frequency AND a.seed = b.seed
    AND a.fault_id = b.fault_id AND a.policy < b.policy`;

export interface LoadOptions {
  /** Run id; default the latest started. */
  readonly runId?: string;
  /** Policy whose episodes the timelines show; default the last policy of the matrix. */
  readonly timelinePolicy?: string;
  /** Load the timelines and training curves (charts only). @default true */
  readonly charts?: boolean;
  /** Read the training curves from this store (e.g. `runs/training.duckdb`) instead of the run's. */
  readonly trainingStore?: TraceReader;
}

/** Thrown for a run or policy that is not in the file: a usage error (exit 2). */
/** What a report was asked for is not in the store: code `report_input`. */
export class ReportInputError extends HarnessError {
  override name = "ReportInputError";
  constructor(message: string) {
    super("report_input", message);
  }
}

/**
 * The completed episodes of one run, one `episode_metrics` x `slo_breakdown` row each, in
 * cell and seed order: what the estimator resamples (the report, and scripts/tune-baselines.ts).
 */
export async function loadEpisodeRows(store: TraceReader, runId: string): Promise<EpisodeRow[]> {
  return (await store.query(EPISODES_SQL, [runId], { camelCase: true })).map((r, i) =>
    parseRow(episodeRowSchema, r, `episode row ${i}`),
  );
}

export async function loadReportData(store: TraceReader, opts: LoadOptions = {}): Promise<ReportData> {
  const runs = await store.listRuns();
  if (runs.length === 0) throw new ReportInputError(`${store.path} holds no run`);
  const run = opts.runId === undefined ? latest(runs) : runs.find((r) => r.runId === opts.runId);
  if (run === undefined) {
    throw new ReportInputError(
      `No run ${opts.runId} in ${store.path}; it holds: ${runs.map((r) => r.runId).join(", ")}`,
    );
  }
  // Gate errors point at the file the run was started with (its text is stored with the run).
  const started = run.argv[0] === "run" && /\.ya?ml$/.test(run.argv[1] ?? "") ? run.argv[1]! : null;
  const scenarioFile = started ?? `${run.scenarioName}.yaml`;
  const scenario = parseScenario(run.scenarioText, scenarioFile);
  const episodes = await loadEpisodeRows(store, run.runId);
  const cells = await store.cellMetrics(run.runId);
  const axes = scenario.success ? scenario.data.scenario.matrix : null;
  const policies = ordered(
    episodes.map((e) => e.policy),
    axes?.policy.map((p) => p.label),
  );
  const faults = ordered(
    episodes.map((e) => e.fault),
    axes?.fault.map((f) => f.label),
  );
  const frequencies = ordered(
    episodes.map((e) => e.frequency),
    axes?.frequency.map((f) => f.label),
  );
  const timelinePolicy = opts.timelinePolicy ?? policies.at(-1);
  if (opts.timelinePolicy !== undefined && !policies.includes(opts.timelinePolicy)) {
    throw new ReportInputError(
      `Expected --timeline-policy to be one of ${policies.join(", ")}, got ${JSON.stringify(opts.timelinePolicy)}`,
    );
  }
  const charts = opts.charts ?? true;
  const timelines =
    timelinePolicy === undefined || !charts ? [] : await loadTimelines(store, run.runId, timelinePolicy, faults);
  return {
    run,
    scenario,
    scenarioFile,
    episodes,
    cells,
    policies,
    faults,
    frequencies,
    timelines,
    training: charts ? await loadTraining(opts.trainingStore ?? store) : null,
    targetAgreement: z
      .object({ same: num, pairs: num })
      .parse((await store.query(TARGET_AGREEMENT_SQL, [run.runId]))[0]),
  };
}

function latest(runs: readonly RunRow[]): RunRow | undefined {
  // listRuns is oldest first.
  return runs.at(-1);
}

/** The labels present in `seen`, in `order` first, then the rest sorted. */
function ordered(seen: readonly string[], order: readonly string[] | undefined): string[] {
  const present = new Set(seen);
  const first = (order ?? []).filter((x) => present.has(x));
  const rest = [...present].filter((x) => !first.includes(x)).sort();
  return [...first, ...rest];
}

function parseRow<T>(schema: z.ZodType<T>, row: unknown, what: string): T {
  const r = schema.safeParse(row);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new Error(`Unexpected ${what} from the trace store: ${issue.path.join(".")}: ${issue.message}`);
  }
  return r.data;
}

/**
 * For each fault label, the `policy` episode with the most fault injections (ties: the
 * first frequency in sorted order, then the lowest seed): the busiest one shows the most.
 */
async function loadTimelines(
  store: TraceReader,
  runId: string,
  policy: string,
  faults: readonly string[],
): Promise<Timeline[]> {
  const picked = await store.query(
    `WITH counted AS (
       SELECT e.episode_id, e.fault, e.frequency, e.policy, e.seed, e.slo_latency_ms, e.slo_error_rate,
         e.steps * e.step_seconds AS end_s,
         count(ev.seq) FILTER (ev.kind = 'fault-injected') AS injections
       FROM episodes e LEFT JOIN events ev USING (episode_id)
       WHERE e.run_id = ? AND e.policy = ? AND e.status = 'completed'
       GROUP BY ALL
     )
     SELECT * FROM counted
     QUALIFY row_number() OVER (PARTITION BY fault ORDER BY injections DESC, frequency, seed) = 1`,
    [runId, policy],
    { camelCase: true },
  );
  if (picked.length === 0) return [];
  // The paired none episode of each: common random numbers give it the same faults and load.
  const paired =
    policy === BASELINE_POLICY
      ? []
      : await store.query(
          `SELECT e.episode_id, e.fault, e.frequency, e.seed FROM episodes e
           WHERE e.run_id = ? AND e.policy = ? AND e.status = 'completed'
             AND (e.fault, e.frequency, e.seed) IN (${picked.map(() => "(?, ?, ?)").join(", ")})`,
          [runId, BASELINE_POLICY, ...picked.flatMap((p) => [String(p.fault), String(p.frequency), Number(p.seed)])],
          { camelCase: true },
        );
  const baselineOf = (p: Record<string, unknown>) =>
    paired.find((b) => b.fault === p.fault && b.frequency === p.frequency && Number(b.seed) === Number(p.seed));
  const ids = [...picked, ...paired].map((p) => Number(p.episodeId));
  const list = ids.join(", ");
  const steps = await store.query(
    `SELECT episode_id, time_s, cpu, latency_ms, error_rate, desired_replicas, ready_replicas, slo_ok,
       CASE WHEN applied THEN executed ELSE 0 END AS applied_action,
       CASE WHEN NOT applied AND proposed <> 0 THEN proposed ELSE 0 END AS refused_action
     FROM steps WHERE episode_id IN (${list}) ORDER BY episode_id, step`,
  );
  const events = await store.query(
    `SELECT episode_id, time_s, kind, fault_id, detail FROM events
     WHERE episode_id IN (${list}) AND kind IN ('fault-injected', 'fault-cleared', 'fault-ended')
     ORDER BY episode_id, seq`,
  );
  const explained = await store.query(
    `SELECT episode_id, time_s, action, detail FROM events
     WHERE episode_id IN (${picked.map((p) => Number(p.episodeId)).join(", ")}) AND kind = 'decision-explained'
     ORDER BY episode_id, time_s, seq`,
  );
  const explanationsOf = (id: number): DecisionWhy[] =>
    explained
      .filter((e) => e.episode_id === id)
      .map((e) => ({
        time: Number(e.time_s),
        action: Number(e.action),
        ...parseRow(explanationSchema, JSON.parse(String(e.detail)), "decision-explained detail"),
      }));
  const stepsOf = (id: number): TimelineStep[] =>
    steps
      .filter((s) => s.episode_id === id)
      .map((s) => ({
        time: Number(s.time_s),
        cpu: Number(s.cpu),
        latencyMs: Number(s.latency_ms),
        errorRate: Number(s.error_rate),
        desired: Number(s.desired_replicas),
        ready: Number(s.ready_replicas),
        sloOk: Boolean(s.slo_ok),
        applied: Number(s.applied_action),
        refused: Number(s.refused_action),
      }));
  const byFault = new Map(picked.map((p) => [String(p.fault), p]));
  return faults.flatMap((fault): Timeline[] => {
    const p = byFault.get(fault);
    if (p === undefined) return [];
    const id = Number(p.episodeId);
    const endS = Number(p.endS);
    const base = baselineOf(p);
    const baseId = Number(base?.episodeId);
    return [
      {
        episodeId: id,
        fault,
        frequency: String(p.frequency),
        policy: String(p.policy),
        seed: Number(p.seed),
        sloLatencyMs: Number(p.sloLatencyMs),
        sloErrorRate: Number(p.sloErrorRate),
        endS,
        steps: stepsOf(id),
        faults: faultSpans(
          events.filter((e) => e.episode_id === id),
          endS,
        ),
        baseline: base === undefined ? null : { episodeId: baseId, policy: BASELINE_POLICY, steps: stepsOf(baseId) },
        explanations: explanationsOf(id),
      },
    ];
  });
}

/**
 * Each injection's span: to its `fault-ended` event (the live span: the fault's effect is
 * gone), or, in a trace with no `fault-ended` event at all (written before they existed), to
 * its clearing; a fault with neither is live until the episode's end.
 */
export function faultSpans(events: readonly Record<string, unknown>[], endS: number): FaultSpan[] {
  const hasEnded = events.some((e) => e.kind === "fault-ended");
  const closing = hasEnded ? "fault-ended" : "fault-cleared";
  const open = new Map<number, Omit<FaultSpan, "to" | "end">>();
  const spans: FaultSpan[] = [];
  for (const e of events) {
    const faultId = Number(e.fault_id);
    const time = Number(e.time_s);
    if (e.kind === "fault-injected") {
      open.set(faultId, { faultId, from: time, detail: String(e.detail) });
    } else if (e.kind === closing) {
      const span = open.get(faultId);
      if (span !== undefined) {
        spans.push({ ...span, to: time, end: hasEnded ? "ended" : "cleared" });
        open.delete(faultId);
      }
    }
  }
  const unended = [...open.values()].map((s): FaultSpan => ({ ...s, to: endS, end: "open" }));
  return [...spans, ...unended].sort((a, b) => a.from - b.from || a.faultId - b.faultId);
}

const TRAINING_TABLE = "training_updates";
const X_CANDIDATES = ["env_steps", "global_step", "timesteps", "step", "update"];
const SERIES_CANDIDATES = ["training_id", "run_id"];
/**
 * The curves worth a panel, in reading order, when the table has them (the PPO trainer's
 * columns, harness/store-training.ts); a table with none of them gets every numeric column.
 */
const PREFERRED_CURVES = [
  "ep_reward_mean",
  "slo_held_share",
  "recovery_time_mean_s",
  "replicas_mean",
  "refused_share",
  "ep_length_mean",
  "policy_loss",
  "value_loss",
  "entropy",
  "approx_kl",
  "clip_frac",
  "explained_variance",
];

/** Reads `training_updates` when the file has it (the RL trainer writes it); else null. */
async function loadTraining(store: TraceReader): Promise<TrainingCurves | null> {
  const cols = await store.query(
    `SELECT column_name, data_type FROM duckdb_columns()
     WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?
     ORDER BY column_index`,
    [TRAINING_TABLE],
  );
  if (cols.length === 0) return null;
  const names = cols.map((c) => String(c.column_name));
  const x = X_CANDIDATES.find((c) => names.includes(c));
  if (x === undefined) return null;
  const series = SERIES_CANDIDATES.find((c) => names.includes(c)) ?? null;
  const numeric = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL)/;
  const numericCols = cols
    .filter((c) => numeric.test(String(c.data_type)))
    .map((c) => String(c.column_name))
    .filter((c) => c !== x && c !== series && c !== "update" && !c.endsWith("_id"));
  const preferred = PREFERRED_CURVES.filter((c) => numericCols.includes(c));
  const metrics = preferred.length > 0 ? preferred : numericCols;
  if (metrics.length === 0) return null;
  const rows = await store.query(
    `SELECT ${[x, ...(series === null ? [] : [series]), ...metrics].map((c) => `"${c}"`).join(", ")}
     FROM ${TRAINING_TABLE} ORDER BY ${series === null ? "" : `"${series}", `}"${x}"`,
  );
  const seriesNames = series === "run_id" ? await trainingRunNames(store) : {};
  return { x, series, metrics, rows, seriesNames };
}

/** "PPO seed 1, 60,000 steps" per training run id, when `training_runs` has them and they are all different. */
async function trainingRunNames(store: TraceReader): Promise<Record<string, string>> {
  const has = await store.query(
    `SELECT count(*) AS n FROM duckdb_tables()
     WHERE database_name = current_database() AND schema_name = 'main' AND table_name = 'training_runs'`,
  );
  if (Number(has[0]?.n) === 0) return {};
  const runs = await store.query("SELECT run_id, algorithm, seed, total_timesteps FROM training_runs ORDER BY run_id");
  const names = Object.fromEntries(
    runs.map((r) => [
      String(r.run_id),
      `${r.algorithm} seed ${r.seed}, ${Number(r.total_timesteps).toLocaleString("en-US")} steps`,
    ]),
  );
  // Two runs with the same seed and length would share a name: the ids then stay.
  return new Set(Object.values(names)).size === runs.length ? names : {};
}
