/**
 * `harness compare-backends`: one scenario run on the simulator and on a real backend
 * (`harness run --backend`), shown side by side per fault type: the simulator's uptime,
 * MTTR and cost beside the real ones, each with its 95% seed-bootstrap interval, and the
 * difference real - sim paired by cell and seed. A seed fixes the fault schedule and the
 * load on every backend, so each real episode has a simulator twin that faced the same
 * faults at the same times; the difference is the simulator's error on that episode.
 *
 * This measures how far the simulator is from the real service; fitting the simulator's
 * parameters to close the gap is `harness calibrate`'s job (DESIGN.md, "Replay and
 * calibration"). Nothing is computed outside the report machinery: per-episode rows from
 * the SQL views (load.ts), intervals from the estimator (estimator.ts).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Interval, PairedInterval } from "./bootstrap.ts";
import type { Block, Cell, Table } from "./document.ts";
import { type Arm, Estimator } from "./estimator.ts";
import { formatDifference, formatInterval } from "./format.ts";
import { type ReportData, ReportInputError } from "./load.ts";
import { renderMarkdown } from "./markdown.ts";
import { type EpisodeRow, METRICS, type MetricName } from "./metrics.ts";

/** What a backend comparison shows, in this order. */
export const BACKEND_METRICS = ["uptime", "mttr", "cost"] as const satisfies readonly MetricName[];
type BackendMetric = (typeof BACKEND_METRICS)[number];

/** Every policy the two runs have in common, pooled (the per-fault-type rows). */
export const ALL_POLICIES = "all policies";

export interface BackendRow {
  readonly fault: string;
  /** A policy label, or {@link ALL_POLICIES}. */
  readonly policy: string;
  /** Completed episodes on each side. */
  readonly nSim: number;
  readonly nReal: number;
  readonly sim: Readonly<Record<BackendMetric, Interval>>;
  readonly real: Readonly<Record<BackendMetric, Interval>>;
  /** real - sim over the episodes of the same cell and seed; `n` counts pairs. */
  readonly difference: Readonly<Record<BackendMetric, PairedInterval>>;
}

export interface BackendComparison {
  readonly simRun: string;
  readonly realRun: string;
  /** `local` or `cluster`. */
  readonly realBackend: string;
  readonly scenario: string;
  readonly notes: readonly string[];
  /** Per fault type (all policies), then per fault type and policy. */
  readonly rows: readonly BackendRow[];
  readonly markdown: string;
  /** `backends.md` when an output folder was given. */
  readonly file: string | null;
}

export interface BackendCompareOptions {
  /** @default 2000 */
  readonly resamples?: number;
  /** @default 0 */
  readonly seed?: number;
  /** Folder for `backends.md`. */
  readonly out?: string;
}

const SIM = "sim";
const REAL = "real";

/** What must agree between the two runs for their cells to be the same experiment (null: unparsable). */
function experiment(d: ReportData): string | null {
  if (!d.scenario.success) return null;
  const s = d.scenario.data.scenario;
  return JSON.stringify([s.steps, s.stepSeconds, s.seeds, s.workload, s.slo, s.guard, s.matrix]);
}

export function compareBackends(
  sim: ReportData,
  real: ReportData,
  opts: BackendCompareOptions = {},
): BackendComparison {
  if (sim.run.backend !== "sim") {
    throw new ReportInputError(
      `--sim: run ${sim.run.runId} ran on backend ${sim.run.backend}; expected a simulator run (harness run --backend sim)`,
    );
  }
  if (real.run.backend === "sim") {
    throw new ReportInputError(
      `--real: run ${real.run.runId} ran on the simulator; expected a run on a real backend (harness run --backend local)`,
    );
  }
  const policies = sim.policies.filter((p) => real.policies.includes(p));
  const faults = sim.faults.filter((f) => real.faults.includes(f));
  if (policies.length === 0 || faults.length === 0) {
    throw new ReportInputError(
      `Runs ${sim.run.runId} and ${real.run.runId} have no ${policies.length === 0 ? "policy" : "fault"} in common: nothing to compare`,
    );
  }
  const notes: string[] = [];
  if (experiment(sim) === null || experiment(sim) !== experiment(real)) {
    notes.push(
      "The two runs' scenarios differ in more than the backend (steps, seeds, workload, SLO, guard or matrix): the cells compared may not be the same experiment.",
    );
  }
  const seeds = (d: ReportData) => new Set(d.episodes.map((e) => e.seed));
  const shared = [...seeds(sim)].filter((s) => seeds(real).has(s));
  if (shared.length < Math.max(seeds(sim).size, seeds(real).size)) {
    notes.push(`The runs share ${shared.length} seed(s); differences pair episodes of the same cell and seed only.`);
  }
  if (Math.min(seeds(sim).size, seeds(real).size) < 2) {
    notes.push("Fewer than two seeds on a side: no interval (a seed bootstrap needs at least two seeds).");
  }

  const tag = (d: ReportData, side: string) =>
    d.episodes
      .filter((e) => policies.includes(e.policy) && faults.includes(e.fault))
      .map((e) => ({ ...e, runId: side }));
  const episodes = [...tag(sim, SIM), ...tag(real, REAL)];
  // Pooled rows: every policy's episodes under one arm, the policy moved into the cell so
  // that pairs still join the same policy's episodes of the same cell and seed.
  const pooled: EpisodeRow[] = episodes.map((e) => ({
    ...e,
    policy: ALL_POLICIES,
    frequency: `${e.frequency}\u0000${e.policy}`,
  }));
  const estimator = new Estimator([...episodes, ...pooled], { resamples: opts.resamples, seed: opts.seed });
  const metrics = [...BACKEND_METRICS];
  const row = (fault: string, policy: string): BackendRow => {
    const s: Arm = { runId: SIM, policy };
    const r: Arm = { runId: REAL, policy };
    return {
      fault,
      policy,
      nSim: estimator.rows(s, { fault }).length,
      nReal: estimator.rows(r, { fault }).length,
      sim: estimator.single(s, { fault }, metrics),
      real: estimator.single(r, { fault }, metrics),
      difference: estimator.paired(r, s, { fault }, metrics),
    };
  };
  const rows = [...faults.map((f) => row(f, ALL_POLICIES)), ...faults.flatMap((f) => policies.map((p) => row(f, p)))];
  const comparison = {
    simRun: sim.run.runId,
    realRun: real.run.runId,
    realBackend: real.run.backend,
    scenario: real.run.scenarioName,
    notes,
    rows,
  };
  const markdown = renderMarkdown(backendsDocument(comparison), []);
  let file: string | null = null;
  if (opts.out !== undefined) {
    const dir = resolve(opts.out);
    mkdirSync(dir, { recursive: true });
    file = join(dir, "backends.md");
    writeFileSync(file, markdown);
  }
  return { ...comparison, markdown, file };
}

const plain = (text: string): Cell => ({ text });

/** Sim beside real for each metric, with intervals. */
function sideBySide(rows: readonly BackendRow[], withPolicy: boolean): Table {
  return {
    header: [
      "fault",
      ...(withPolicy ? ["policy"] : []),
      "episodes sim / real",
      ...BACKEND_METRICS.flatMap((m) => [`${METRICS[m].title} sim`, `${METRICS[m].title} real`]),
    ],
    align: `l${withPolicy ? "l" : ""}r${"rr".repeat(BACKEND_METRICS.length)}`,
    rows: rows.map((r) => [
      plain(r.fault),
      ...(withPolicy ? [plain(r.policy)] : []),
      plain(`${r.nSim} / ${r.nReal}`),
      ...BACKEND_METRICS.flatMap((m) => [plain(formatInterval(m, r.sim[m])), plain(formatInterval(m, r.real[m]))]),
    ]),
  };
}

function differences(rows: readonly BackendRow[]): Table {
  return {
    header: ["fault", "pairs", ...BACKEND_METRICS.map((m) => `${METRICS[m].title} real - sim`)],
    align: `lr${"r".repeat(BACKEND_METRICS.length)}`,
    rows: rows.map((r) => [
      plain(r.fault),
      plain(String(r.difference.uptime.n)),
      ...BACKEND_METRICS.map((m) => plain(formatDifference(m, r.difference[m]))),
    ]),
  };
}

function backendsDocument(c: Omit<BackendComparison, "markdown" | "file">): Block[] {
  const pooled = c.rows.filter((r) => r.policy === ALL_POLICIES);
  const perPolicy = c.rows.filter((r) => r.policy !== ALL_POLICIES);
  return [
    { kind: "heading", level: 1, text: `Simulator against ${c.realBackend}: ${c.scenario}` },
    {
      kind: "paragraph",
      text: `Runs ${c.simRun} (sim) and ${c.realRun} (${c.realBackend}). Each value is the estimate with its 95% interval over seeds; a difference pairs the two backends' episodes of the same cell and seed (the same faults at the same times, the same load).`,
    },
    ...c.notes.map((text): Block => ({ kind: "note", text })),
    { kind: "heading", level: 2, text: "Per fault type (all policies)" },
    { kind: "table", table: sideBySide(pooled, false) },
    { kind: "heading", level: 2, text: "Difference per fault type (real - sim, paired)" },
    { kind: "table", table: differences(pooled) },
    { kind: "heading", level: 2, text: "Per fault type and policy" },
    { kind: "table", table: sideBySide(perPolicy, true) },
  ];
}
