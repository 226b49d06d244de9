/**
 * `harness compare`: a regression report between two runs of the same scenario (main
 * against a pull request, yesterday against today). For each policy, over the whole matrix
 * and in each cell, every headline metric's change (candidate - baseline) with its 95%
 * interval and p-value, paired by cell and seed: the simulator is deterministic per seed,
 * so two runs of one scenario face the same faults and load, and only the policies or the
 * code under them differ. A change is flagged (improved / regressed) on the same rule as a
 * report's verdicts (model.ts `judge`). Gates use the report's language with `candidate`
 * and `baseline` as subjects (gates.ts).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Block, buildGateTable, type Cell, type Table } from "./document.ts";
import { type Arm, Estimator } from "./estimator.ts";
import { formatDifference, formatP, formatValue } from "./format.ts";
import { evaluateGate, type GateResult } from "./gate-eval.ts";
import { compileGate, type Filter, type GateNames, RUN_ARMS } from "./gates.ts";
import { loadReportData, type ReportData, ReportInputError } from "./load.ts";
import { renderMarkdown } from "./markdown.ts";
import { HEADLINE, METRICS, type MetricName } from "./metrics.ts";
import { judge } from "./model.ts";
import type { TraceReader } from "./reader.ts";

export interface CompareSide {
  readonly store: TraceReader;
  /** Run id; default the latest in the store. */
  readonly runId?: string;
}

export interface CompareOptions {
  /** Gate expressions (`candidate.mttr <= baseline.mttr * 1.05`). */
  readonly gates?: readonly string[];
  readonly resamples?: number;
  readonly seed?: number;
  /** Folder for `compare.md`; none: nothing is written. */
  readonly out?: string;
  /**
   * Compare runs that share no (cell, seed) pair. Without it such runs are refused: a
   * comparison of nothing must not read "no significant change". @default false
   */
  readonly unpaired?: boolean;
}

/** One way the two runs were not made alike (code, models, scenario, runtime). */
export interface ProvenanceDifference {
  readonly what: string;
  readonly baseline: string;
  readonly candidate: string;
}

export interface Change {
  readonly policy: string;
  /** Empty for the whole matrix. */
  readonly filter: Filter;
  readonly metric: MetricName;
  readonly baseline: number;
  readonly candidate: number;
  readonly difference: ReturnType<Estimator["paired"]>[MetricName];
  readonly flag: "improved" | "regressed" | null;
}

export interface CompareOutcome {
  readonly baselineRun: string;
  readonly candidateRun: string;
  /** Every provenance difference between the runs: shown first. */
  readonly provenance: readonly ProvenanceDifference[];
  /** No (cell, seed) pair in common: the changes are differences of unpaired means. */
  readonly unpaired: boolean;
  readonly notes: readonly string[];
  readonly changes: readonly Change[];
  readonly gates: readonly GateResult[];
  readonly passed: boolean;
  readonly markdown: string;
  readonly file: string | null;
}

const BASE = "baseline";
const CAND = "candidate";

export async function compareRuns(
  baseline: CompareSide,
  candidate: CompareSide,
  opts: CompareOptions = {},
): Promise<CompareOutcome> {
  const base = await loadReportData(baseline.store, { runId: baseline.runId, charts: false });
  const cand = await loadReportData(candidate.store, { runId: candidate.runId, charts: false });
  // Rows are tagged by side, not by run id: a file compared with a copy of itself has one id twice.
  const episodes = [
    ...base.episodes.map((e) => ({ ...e, runId: BASE })),
    ...cand.episodes.map((e) => ({ ...e, runId: CAND })),
  ];
  const estimator = new Estimator(episodes, { resamples: opts.resamples, seed: opts.seed });
  const common = (a: readonly string[], b: readonly string[]) => a.filter((x) => b.includes(x));
  const names: GateNames = {
    mode: "compare",
    policies: common(base.policies, cand.policies),
    faults: common(base.faults, cand.faults),
    frequencies: common(base.frequencies, cand.frequencies),
  };
  const gates = (opts.gates ?? []).map((text, i) => {
    const r = compileGate(text, names);
    if (!r.success) {
      throw new ReportInputError(
        `--gate ${JSON.stringify(text)}: ${r.issue.message} (at character ${r.issue.offset + 1})`,
      );
    }
    return evaluateGate(r.gate, `--gate #${i + 1}`, {
      estimator,
      policies: names.policies,
      resolve: (arm, policy) => ({ runId: arm.name === CAND ? CAND : BASE, policy: (arm.policy ?? policy)! }),
    });
  });
  const changes = names.policies.flatMap((policy) => {
    const cells = base.cells
      .filter(
        (c) =>
          c.policy === policy &&
          cand.cells.some((d) => d.policy === policy && d.fault === c.fault && d.frequency === c.frequency),
      )
      .map((c): Filter => ({ fault: c.fault, frequency: c.frequency }));
    return [{}, ...cells].flatMap((filter) => changesOf(estimator, policy, filter));
  });
  const overallPairs = changes.filter((c) => c.filter.fault === undefined).reduce((n, c) => n + c.difference.n, 0);
  const unpaired = overallPairs === 0;
  if (unpaired && opts.unpaired !== true) {
    throw new ReportInputError(
      `No pairs to compare: runs ${base.run.runId} and ${cand.run.runId} share no episode of the same policy, cell and seed${names.policies.length === 0 ? " (no policy in common)" : ""}; pass --unpaired to compare unpaired means`,
    );
  }
  const provenance = provenanceDifferences(base, cand);
  const notes = compareNotes(base, cand, names);
  const markdown = renderMarkdown(compareDocument(base, cand, provenance, unpaired, notes, changes, gates), []);
  let file: string | null = null;
  if (opts.out !== undefined) {
    const dir = resolve(opts.out);
    mkdirSync(dir, { recursive: true });
    file = join(dir, "compare.md");
    writeFileSync(file, markdown);
  }
  return {
    baselineRun: base.run.runId,
    candidateRun: cand.run.runId,
    provenance,
    unpaired,
    notes,
    changes,
    gates,
    passed: gates.every((g) => g.pass),
    markdown,
    file,
  };
}

function changesOf(estimator: Estimator, policy: string, filter: Filter): Change[] {
  const b: Arm = { runId: BASE, policy };
  const c: Arm = { runId: CAND, policy };
  const before = estimator.single(b, filter, HEADLINE);
  const after = estimator.single(c, filter, HEADLINE);
  const diff = estimator.paired(c, b, filter, HEADLINE);
  return HEADLINE.map((metric) => {
    const v = judge(metric, diff[metric]);
    return {
      policy,
      filter,
      metric,
      baseline: before[metric].estimate,
      candidate: after[metric].estimate,
      difference: diff[metric],
      flag: v === "a" ? "improved" : v === "b" ? "regressed" : null,
    };
  });
}

/** Git sha, scenario, model checksums, backend and runtime: what made the runs, where it differs. */
export function provenanceDifferences(base: ReportData, cand: ReportData): ProvenanceDifference[] {
  const out: ProvenanceDifference[] = [];
  const differ = (what: string, a: string | null, b: string | null) => {
    if (a !== b) out.push({ what, baseline: a ?? "-", candidate: b ?? "-" });
  };
  differ("git sha", base.run.gitSha, cand.run.gitSha);
  differ("scenario sha256", base.run.scenarioSha256, cand.run.scenarioSha256);
  const models = [
    ...new Set([...Object.keys(base.run.modelChecksums), ...Object.keys(cand.run.modelChecksums)]),
  ].sort();
  for (const m of models) {
    differ(`model ${m} sha256`, base.run.modelChecksums[m] ?? null, cand.run.modelChecksums[m] ?? null);
  }
  differ("backend", base.run.backend, cand.run.backend);
  differ("node", base.run.nodeVersion, cand.run.nodeVersion);
  return out;
}

function compareNotes(base: ReportData, cand: ReportData, names: GateNames): string[] {
  const notes: string[] = [];
  if (base.run.scenarioSha256 !== cand.run.scenarioSha256) {
    notes.push(
      `The scenario files differ (sha256 ${base.run.scenarioSha256.slice(0, 12)} vs ${cand.run.scenarioSha256.slice(0, 12)}): only what both matrices have is compared.`,
    );
  }
  const only = (a: readonly string[], b: readonly string[]) => a.filter((x) => !b.includes(x));
  for (const [axis, a, b] of [
    ["policies", base.policies, cand.policies],
    ["faults", base.faults, cand.faults],
    ["frequencies", base.frequencies, cand.frequencies],
  ] as const) {
    if (only(a, b).length > 0) notes.push(`Only the baseline has ${axis} ${only(a, b).join(", ")}.`);
    if (only(b, a).length > 0) notes.push(`Only the candidate has ${axis} ${only(b, a).join(", ")}.`);
  }
  const seeds = (d: ReportData) => new Set(d.episodes.map((e) => e.seed));
  const shared = [...seeds(base)].filter((s) => seeds(cand).has(s)).length;
  if (shared < Math.max(seeds(base).size, seeds(cand).size)) {
    notes.push(`The runs share ${shared} seeds; differences pair episodes of the same cell and seed only.`);
  }
  if (names.policies.length === 0) notes.push("The runs have no policy in common: nothing to compare.");
  return notes;
}

const plain = (text: string): Cell => ({ text });

function changeTable(changes: readonly Change[], withCell: boolean): Table {
  return {
    header: [
      ...(withCell ? ["fault", "frequency"] : []),
      "policy",
      "metric",
      "baseline",
      "candidate",
      "change",
      "n pairs",
      "verdict",
    ],
    align: `${withCell ? "ll" : ""}llrrrrl`,
    rows: changes.map((c) => [
      ...(withCell ? [plain(c.filter.fault ?? ""), plain(c.filter.frequency ?? "")] : []),
      plain(c.policy),
      plain(METRICS[c.metric].title),
      plain(formatValue(c.metric, c.baseline)),
      plain(formatValue(c.metric, c.candidate)),
      plain(`${formatDifference(c.metric, c.difference)} ${formatP(c.difference.p)}`),
      plain(String(c.difference.n)),
      c.flag === null ? plain("") : { text: c.flag, tone: c.flag === "improved" ? "win" : "fail" },
    ]),
  };
}

function compareDocument(
  base: ReportData,
  cand: ReportData,
  provenance: readonly ProvenanceDifference[],
  unpaired: boolean,
  notes: readonly string[],
  changes: readonly Change[],
  gates: readonly GateResult[],
): Block[] {
  const side = (d: ReportData) => [
    d.run.runId,
    d.run.gitSha ?? "-",
    d.run.scenarioSha256.slice(0, 12),
    String(d.episodes.length),
    d.run.startedAt.toISOString().replace(/\.\d+Z$/, "Z"),
  ];
  const [b, c] = [side(base), side(cand)];
  const labels = ["run", "git sha", "scenario sha256", "completed episodes", "started"];
  const overall = changes.filter((x) => x.filter.fault === undefined);
  const cells = changes.filter((x) => x.filter.fault !== undefined);
  const flagged = cells.filter((x) => x.flag !== null);
  const blocks: Block[] = [
    { kind: "heading", level: 1, text: `Compare: ${cand.run.scenarioName}, ${RUN_ARMS[0]} against ${RUN_ARMS[1]}` },
    ...(unpaired
      ? [
          {
            kind: "note",
            text: "Unpaired comparison: the runs share no (cell, seed) pair, so every change below is a difference of unpaired means.",
          } satisfies Block,
        ]
      : []),
    ...(provenance.length === 0
      ? []
      : [
          {
            kind: "table",
            table: {
              header: ["differs", BASE, CAND],
              align: "lll",
              rows: provenance.map((p) => [plain(p.what), plain(p.baseline), plain(p.candidate)]),
            },
          } satisfies Block,
        ]),
    {
      kind: "table",
      table: {
        header: ["", BASE, CAND],
        align: "lll",
        rows: labels.map((l, i) => [plain(l), plain(b[i]!), plain(c[i]!)]),
      },
    },
    {
      kind: "paragraph",
      text: "Change = candidate - baseline, paired by cell and seed, with its 95% bootstrap interval and sign-flip p-value. A change is flagged only when the interval excludes 0 and p < 0.05.",
    },
    ...notes.map((text): Block => ({ kind: "note", text })),
  ];
  if (gates.length > 0) {
    blocks.push({
      kind: "heading",
      level: 2,
      text: `Gates: ${gates.filter((g) => g.pass).length} of ${gates.length} passed`,
    });
    blocks.push({ kind: "table", table: buildGateTable(gates) });
  }
  blocks.push(
    { kind: "heading", level: 2, text: "Whole matrix" },
    { kind: "table", table: changeTable(overall, false) },
    { kind: "heading", level: 2, text: `Significant changes in cells: ${flagged.length}` },
    flagged.length > 0 ? { kind: "table", table: changeTable(flagged, true) } : { kind: "paragraph", text: "None." },
    { kind: "details", summary: "Every cell", blocks: [{ kind: "table", table: changeTable(cells, true) }] },
  );
  return blocks;
}
