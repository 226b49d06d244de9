/**
 * The report as data: every table the Markdown and HTML renderers print, every interval
 * and paired comparison, built once from the loaded rows (load.ts) through the estimator.
 * Renderers only format; they never compute.
 *
 * Paired comparisons: for policies listed in the matrix as p1, p2, ..., each later policy
 * is compared with each earlier one (`later - earlier`), since scenarios list the baselines
 * first. A policy is called better on a metric only when the 95% interval of the paired
 * difference excludes zero AND the sign-flip p-value is below 0.05; anything else is "no
 * significant difference".
 */
import { missingShards } from "../harness/core/runs.ts";
import type { Interval, PairedInterval } from "./bootstrap.ts";
import type { Arm, Estimator } from "./estimator.ts";
import type { GateResult } from "./gate-eval.ts";
import type { Filter } from "./gates.ts";
import type { ReportData, Timeline, TrainingCurves } from "./load.ts";
import {
  ACTION_HARM,
  ACTION_MIX,
  HEADLINE,
  INCIDENT_FIGURES,
  METRICS,
  type MetricDef,
  type MetricName,
  SLO_PARTS,
} from "./metrics.ts";
import { bestOther, verdictSentence } from "./verdict.ts";
import type { CellMetricsRow } from "./views.ts";

export const ALPHA = 0.05;

/** Which side of `a - b` is better with confidence, or neither. */
export type Verdict = "a" | "b" | null;

export interface Judged extends PairedInterval {
  readonly verdict: Verdict;
}

export interface PolicyRow {
  readonly policy: string;
  /** Completed episodes. */
  readonly n: number;
  /** Incidents in total, and those still open at their episode's end. */
  readonly incidents: number;
  readonly censored: number;
  readonly metrics: Record<MetricName, Interval>;
}

export interface ComparisonRow {
  readonly a: string;
  readonly b: string;
  /** Pairs (cell, seed) both have. */
  readonly n: number;
  readonly metrics: Record<MetricName, Judged>;
}

export interface Section {
  readonly filter: Filter;
  readonly rows: readonly PolicyRow[];
  readonly comparisons: readonly ComparisonRow[];
}

export interface ReportModel {
  readonly title: string;
  /** Run context, label then value (google/benchmark's context block). */
  readonly context: readonly (readonly [string, string])[];
  readonly notes: readonly string[];
  readonly resamples: number;
  readonly seed: number;
  readonly policies: readonly string[];
  readonly faults: readonly string[];
  readonly frequencies: readonly string[];
  /** Whole run, each fault (over its frequencies), each cell. */
  readonly overall: Section;
  readonly byFault: readonly Section[];
  readonly byCell: readonly Section[];
  readonly gates: readonly GateResult[];
  readonly timelines: readonly Timeline[];
  readonly training: TrainingCurves | null;
  /** One sentence per policy against the best other policy (reports/verdict.ts). */
  readonly verdict?: readonly string[];
}

/** Every metric a policy row carries (headline, SLO parts, action mix and harm). */
const ROW_METRICS: readonly MetricName[] = [
  ...new Set<MetricName>([...HEADLINE, ...INCIDENT_FIGURES, ...SLO_PARTS, "actions", ...ACTION_MIX, ...ACTION_HARM]),
];

export function buildModel(data: ReportData, estimator: Estimator, gates: readonly GateResult[]): ReportModel {
  checkAgainstSql(estimator, data.cells);
  const arm = (policy: string): Arm => ({ runId: data.run.runId, policy });
  const section = (filter: Filter): Section => ({
    filter,
    rows: data.policies.flatMap((policy) => {
      const rows = estimator.rows(arm(policy), filter);
      if (rows.length === 0) return [];
      return [
        {
          policy,
          n: rows.length,
          incidents: rows.reduce((s, r) => s + r.incidents, 0),
          censored: rows.reduce((s, r) => s + r.censoredIncidents, 0),
          metrics: estimator.single(arm(policy), filter, ROW_METRICS),
        },
      ];
    }),
    comparisons: pairsOf(data.policies).flatMap(([a, b]) => {
      const metrics = estimator.paired(arm(a), arm(b), filter, HEADLINE);
      const n = metrics.uptime.n;
      if (n === 0) return [];
      return [{ a, b, n, metrics: judgeAll(metrics) }];
    }),
  });
  const r = data.run;
  const completed = data.episodes.length;
  const context: [string, string][] = [
    ["run", r.runId],
    ["scenario", `${r.scenarioName} (sha256 ${r.scenarioSha256.slice(0, 12)})`],
    ["status", `${r.status}; ${completed} completed episodes of ${r.episodes} stored`],
    ["backend", r.backend],
    ["seeds", formatSeeds(r.seeds)],
    ["git sha", r.gitSha ?? "(not a git checkout)"],
    [
      "models",
      Object.keys(r.modelChecksums).length === 0
        ? "none"
        : Object.entries(r.modelChecksums)
            .map(([file, sha]) => `${file} (sha256 ${sha.slice(0, 12)})`)
            .join(", "),
    ],
    ["started", isoDate(r.startedAt)],
    ["finished", r.finishedAt === null ? "-" : isoDate(r.finishedAt)],
    ["host", `${r.host}, ${r.cpus} CPUs, Node ${r.nodeVersion}`],
    ["shard", r.shard ?? "all"],
  ];
  const notes: string[] = [];
  if (completed < r.episodes) {
    notes.push(
      `${r.episodes - completed} episodes did not complete (aborted or failed) and are left out of every number.`,
    );
  }
  const missing = missingShards(r.shard);
  if (missing.length > 0) {
    notes.push(
      `This store holds shards ${r.shard} of the run only (missing ${missing.join(", ")}): every number covers that part of the matrix; \`harness merge\` the missing shards for the whole.`,
    );
  }
  if (r.status !== "completed") notes.push(`The run is ${r.status}: the numbers cover the episodes stored so far.`);
  if (!data.scenario.success) {
    notes.push("The scenario stored with the run no longer parses with this version: gates were not checked.");
  }
  const { same, pairs } = data.targetAgreement;
  if (pairs > 0) {
    notes.push(
      `Fault targets: ${((100 * same) / pairs).toFixed(1)}% of ${pairs} pod-fault injections paired across policies (same cell and seed) hit the same target rank among running pods (or found none alike)${same < pairs ? "; the rest differ because the policies left different numbers of pods running" : ""}.`,
    );
  }
  const seedsPerCell = Math.min(...data.cells.map((c) => c.seeds));
  if (seedsPerCell < 2) notes.push("Some cell has fewer than 2 seeds: it has no interval (shown as -).");
  else if (seedsPerCell < 10) {
    notes.push(
      `Cells have as few as ${seedsPerCell} seeds: intervals this narrow in n are rough; run more seeds before trusting a verdict.`,
    );
  }
  const overall = section({});
  const verdict = data.policies.flatMap((p) => {
    const best = bestOther(overall.rows, p);
    if (best === null) return [];
    const d = estimator.paired(arm(p), arm(best.policy), {}, ["uptime", "mttr", "cost"]);
    if (d.uptime.n === 0) return [];
    return [verdictSentence(p, best.policy, d, best.metrics.cost.estimate)];
  });
  return {
    title: `Report: ${r.scenarioName}`,
    context,
    notes,
    verdict,
    resamples: estimator.resamples,
    seed: estimator.seed,
    policies: data.policies,
    faults: data.faults,
    frequencies: data.frequencies,
    overall,
    byFault: data.faults.map((fault) => section({ fault })),
    byCell: data.faults.flatMap((fault) =>
      data.frequencies
        .filter((frequency) => data.cells.some((c) => c.fault === fault && c.frequency === frequency))
        .map((frequency) => section({ fault, frequency })),
    ),
    gates,
    timelines: data.timelines,
    training: data.training,
  };
}

/** Every (later, earlier) pair of the matrix's policy order. */
export function pairsOf(policies: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let j = 1; j < policies.length; j++) for (let i = 0; i < j; i++) out.push([policies[j]!, policies[i]!]);
  return out;
}

export function judge(metric: MetricName, d: PairedInterval): Verdict {
  const better = METRICS[metric].better;
  if (better === null || d.lower === null || d.upper === null || d.p === null || d.p >= ALPHA) return null;
  const aHigher = d.lower > 0;
  const aLower = d.upper < 0;
  if (!aHigher && !aLower) return null;
  return aHigher === (better === "higher") ? "a" : "b";
}

function judgeAll<M extends MetricName>(metrics: Record<M, PairedInterval>): Record<M, Judged> {
  return Object.fromEntries(
    Object.entries<PairedInterval>(metrics).map(([m, d]) => [m, { ...d, verdict: judge(m as MetricName, d) }]),
  ) as Record<M, Judged>;
}

/**
 * The estimator's point estimates must equal the SQL's (`cell_metrics`) for every cell:
 * metrics.ts only names columns, and this proves it names the right ones.
 */
function checkAgainstSql(estimator: Estimator, cells: readonly CellMetricsRow[]): void {
  const columns = new Map<MetricName, keyof CellMetricsRow>();
  for (const m of Object.keys(METRICS) as MetricName[]) {
    const def: MetricDef = METRICS[m];
    if (def.cellColumn !== undefined) columns.set(m, def.cellColumn);
  }
  const checked = [...columns.keys()];
  for (const cell of cells) {
    if (cell.episodes === 0) continue;
    const got = estimator.single({ runId: cell.runId, policy: cell.policy }, cell, checked);
    for (const m of checked) {
      const want = cell[columns.get(m)!] as number | null;
      const have = got[m].estimate;
      const same = want === null ? Number.isNaN(have) : Math.abs(have - want) <= 1e-9 * Math.max(1, Math.abs(want));
      if (!same) {
        throw new Error(
          `reports/metrics.ts disagrees with cell_metrics on ${m} for ${cell.fault}/${cell.frequency}/${cell.policy}: ${have} vs ${want}`,
        );
      }
    }
  }
}

function formatSeeds(seeds: readonly number[]): string {
  const sorted = [...seeds].sort((a, b) => a - b);
  const consecutive = sorted.every((s, i) => i === 0 || s === sorted[i - 1]! + 1);
  if (consecutive && sorted.length > 3) return `${sorted[0]}..${sorted.at(-1)} (${sorted.length})`;
  return `${sorted.join(", ")} (${sorted.length})`;
}

function isoDate(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, "Z");
}
