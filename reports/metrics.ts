/**
 * The metrics a report shows and a gate can name, each as a ratio of sums over per-episode
 * rows of the SQL views (`episode_metrics` joined with `slo_breakdown`, reports/views.ts).
 * Nothing is computed here: a metric only says which SQL columns its numerator and
 * denominator are, so that the bootstrap can resample episodes (bootstrap.ts). For a cell,
 * the estimate equals the `cell_metrics` column named in `cellColumn`, and analysis.ts checks
 * that it does on every report, so the two can never drift apart.
 *
 * See reports/README.md for the definitions in words.
 */
import type { CellMetricsRow } from "./views.ts";

/** One completed episode, as loaded (load.ts): labels plus the numeric SQL columns. */
export interface EpisodeRow {
  readonly episodeId: number;
  readonly runId: string;
  readonly fault: string;
  readonly frequency: string;
  readonly policy: string;
  readonly seed: number;
  readonly uptime: number | null;
  readonly replicaSeconds: number;
  readonly incidents: number;
  readonly closedIncidents: number;
  readonly censoredIncidents: number;
  readonly ttrSTotal: number;
  readonly observedTtrSTotal: number;
  readonly unattributedDowntimeS: number;
  readonly faults: number;
  readonly absorbedFaults: number;
  readonly recoveredFaults: number;
  readonly faultTtrSTotal: number;
  readonly actions: number;
  readonly restarts: number;
  readonly scaleUps: number;
  readonly scaleDowns: number;
  readonly drains: number;
  readonly unnecessaryActions: number;
  /** NULL when the episode acted and has no paired `none` episode to judge harm against. */
  readonly harmfulActions: number | null;
  readonly refused: number;
  readonly flaps: number;
  readonly regressions: number;
  readonly return: number;
  readonly breached: number | null;
  readonly noReady: number | null;
  readonly latencyOver: number | null;
  readonly errorsOver: number | null;
}

/** The numeric columns of an {@link EpisodeRow}: what a metric may sum. */
export type NumericColumn = Exclude<
  keyof EpisodeRow,
  "episodeId" | "runId" | "fault" | "frequency" | "policy" | "seed"
>;

export type Format = "share" | "seconds" | "replicaSeconds" | "perEpisode" | "number";

export interface MetricDef {
  /** Column header. */
  readonly title: string;
  /** Which way is better, or null for descriptive counts (action mix). */
  readonly better: "higher" | "lower" | null;
  readonly format: Format;
  /** Per-episode numerator (an `episode_metrics`/`slo_breakdown` column). */
  readonly num: NumericColumn;
  /** Per-episode denominator; absent: 1 for each episode whose numerator is not NULL (a mean). */
  readonly den?: NumericColumn;
  /** The `cell_metrics` column this equals at cell level, checked on every report. */
  readonly cellColumn?: keyof CellMetricsRow;
  /** One line for the README and the report's legend. */
  readonly doc: string;
}

const perEpisode = (num: NumericColumn, title: string, better: MetricDef["better"], doc: string): MetricDef => ({
  title,
  better,
  format: "perEpisode",
  num,
  doc,
});

/** Every metric, by the name gates use (`rl.mttr`). */
export const METRICS = {
  uptime: {
    title: "uptime",
    better: "higher",
    format: "share",
    num: "uptime",
    cellColumn: "uptimeMean",
    doc: "share of observed time with the SLO held, mean over episodes",
  },
  mttr: {
    title: "MTTR",
    better: "lower",
    format: "seconds",
    num: "ttrSTotal",
    den: "closedIncidents",
    cellColumn: "mttrMeanS",
    doc: "mean time to recover over every closed incident (SLO broken until it held for the confirmation window); censored ones are counted in `censored`",
  },
  mttr_restricted: {
    title: "MTTR (restricted)",
    better: "lower",
    format: "seconds",
    num: "observedTtrSTotal",
    den: "incidents",
    cellColumn: "mttrRestrictedS",
    doc: "mean over every incident of its time to recover, or to the episode's end when censored (a lower bound that counts open outages)",
  },
  censored: {
    title: "censored",
    better: "lower",
    format: "share",
    num: "censoredIncidents",
    den: "incidents",
    doc: "share of incidents still open at the episode's end",
  },
  incidents: {
    ...perEpisode("incidents", "incidents", "lower", "incidents (maximal SLO-broken spans), per episode"),
  },
  fault_ttr: {
    title: "fault TTR",
    better: "lower",
    format: "seconds",
    num: "faultTtrSTotal",
    den: "recoveredFaults",
    cellColumn: "faultTtrMeanS",
    doc: "time from a fault's injection to the recovery of the last incident it caused, over faults that caused one and recovered",
  },
  absorbed: {
    title: "absorbed",
    better: "higher",
    format: "share",
    num: "absorbedFaults",
    den: "faults",
    doc: "share of injected faults whose live span saw no incident",
  },
  unattributed: {
    title: "unattributed downtime",
    better: "lower",
    format: "seconds",
    num: "unattributedDowntimeS",
    cellColumn: "unattributedDowntimeSMean",
    doc: "SLO-broken seconds per episode in incidents that started while no fault was live (often an action's doing)",
  },
  cost: {
    title: "cost",
    better: "lower",
    format: "replicaSeconds",
    num: "replicaSeconds",
    cellColumn: "replicaSecondsMean",
    doc: "replica-seconds (desired replicas x seconds) per episode",
  },
  unnecessary: {
    ...perEpisode("unnecessaryActions", "unnecessary actions", "lower", ""),
    cellColumn: "unnecessaryActionsMean",
    doc: "actions applied while no fault was live and the SLO had held for the confirmation window, per episode",
  },
  harmful: {
    ...perEpisode(
      "harmfulActions",
      "harmful actions",
      "lower",
      "actions after which the SLO was broken longer over the confirmation window than in the paired `none` episode (by > 10% of the window), per episode",
    ),
    cellColumn: "harmfulActionsMean",
  },
  actions: {
    ...perEpisode("actions", "actions", null, "actions applied, per episode"),
    cellColumn: "actionsMean",
  },
  restarts: {
    ...perEpisode("restarts", "restarts", null, "restart-pod actions applied, per episode"),
    cellColumn: "restartsMean",
  },
  scale_ups: perEpisode("scaleUps", "scale-ups", null, "scale-up actions applied, per episode"),
  scale_downs: perEpisode("scaleDowns", "scale-downs", null, "scale-down actions applied, per episode"),
  drains: perEpisode("drains", "drains", null, "drain-pod actions applied, per episode"),
  refused: {
    ...perEpisode("refused", "refused", "lower", "actions proposed but not applied (guard or backend), per episode"),
    cellColumn: "refusedMean",
  },
  flaps: {
    ...perEpisode("flaps", "flaps", "lower", "scale reversals within 300 s, per episode"),
    cellColumn: "flapsMean",
  },
  regressions: perEpisode(
    "regressions",
    "regressions",
    "lower",
    "raw regression events: actions after which the SLO broke and got >10% worse within the confirmation window, without a counterfactual (see `harmful`), per episode",
  ),
  return: {
    ...perEpisode("return", "return", "higher", "sum of rewards per episode (the policy's own score, never a verdict)"),
    cellColumn: "returnMean",
  },
  breached: {
    title: "SLO broken",
    better: "lower",
    format: "share",
    num: "breached",
    doc: "share of time with the SLO broken (1 - uptime)",
  },
  no_ready: {
    title: "no ready pod",
    better: "lower",
    format: "share",
    num: "noReady",
    doc: "share of time with no ready replica",
  },
  latency_over: {
    title: "latency over",
    better: "lower",
    format: "share",
    num: "latencyOver",
    doc: "share of time with latency above the SLO ceiling",
  },
  errors_over: {
    title: "errors over",
    better: "lower",
    format: "share",
    num: "errorsOver",
    doc: "share of time with the error rate above the SLO ceiling",
  },
} as const satisfies Record<string, MetricDef>;

export type MetricName = keyof typeof METRICS;
export const METRIC_NAMES = Object.keys(METRICS) as MetricName[];

export function isMetricName(name: string): name is MetricName {
  return Object.hasOwn(METRICS, name);
}

export function metricDef(name: MetricName): MetricDef {
  return METRICS[name];
}

/** The four headline metrics: every one gets an interval and a paired comparison. */
export const HEADLINE: readonly MetricName[] = ["uptime", "mttr", "cost", "unnecessary"];

/** The SLO decomposition columns. */
export const SLO_PARTS: readonly MetricName[] = ["breached", "no_ready", "latency_over", "errors_over"];

/** The action mix columns. */
export const ACTION_MIX: readonly MetricName[] = ["restarts", "scale_ups", "scale_downs", "drains"];

/** The action-harm columns. */
export const ACTION_HARM: readonly MetricName[] = ["unnecessary", "harmful", "refused", "regressions", "flaps"];

/** What became of incidents and faults (the MTTR section). */
export const INCIDENT_FIGURES: readonly MetricName[] = [
  "incidents",
  "censored",
  "mttr_restricted",
  "fault_ttr",
  "absorbed",
  "unattributed",
];

/** Numerator and denominator of `metric` for one episode. */
export function numDen(metric: MetricName, row: EpisodeRow): [number, number] {
  const def: MetricDef = METRICS[metric];
  const num = row[def.num];
  if (def.den === undefined) return num === null ? [0, 0] : [num, 1];
  return [num ?? 0, row[def.den] ?? 0];
}
