/**
 * The report's content as a list of blocks (headings, paragraphs, tables, charts), built
 * once from the model, so the Markdown and the HTML show the same tables in the same order
 * and differ only in markup (markdown.ts, html.ts).
 */

import { ACTION_NAMES } from "../harness/core/contract.ts";
import { policyColor } from "./charts/theme.ts";
import { formatDifference, formatInterval, formatNumber, formatP, formatValue } from "./format.ts";
import type { GateResult } from "./gate-eval.ts";
import type { Timeline } from "./load.ts";
import { ACTION_HARM, ACTION_MIX, HEADLINE, INCIDENT_FIGURES, METRICS, type MetricName, SLO_PARTS } from "./metrics.ts";
import type { ComparisonRow, ReportModel, Section } from "./model.ts";

/** A table cell; `tone` colours it in HTML and bolds it in Markdown where it is a verdict. */
export interface Cell {
  readonly text: string;
  readonly tone?: "win" | "pass" | "fail";
  /**
   * A paired difference's winner: its colour (the policy's, as in the charts) tints the cell
   * in HTML; Markdown names the winner in `strong`. Absent: no significant difference.
   */
  readonly winner?: { readonly policy: string; readonly color: string };
  /** Prefix shown bold (the name of the better policy). */
  readonly strong?: string;
  /** A secondary figure (the p-value): after the text in Markdown, on its own line in HTML. */
  readonly detail?: string;
  readonly code?: boolean;
}

export interface Table {
  readonly header: readonly string[];
  /** One letter per column: "l" or "r". */
  readonly align: string;
  readonly rows: readonly (readonly Cell[])[];
}

/** A heading the table of contents links to (HTML by `id`; Markdown by the slug of `text`). */
export interface TocEntry {
  readonly level: 2 | 3;
  readonly text: string;
  readonly id: string;
}

export type Block =
  | { readonly kind: "heading"; readonly level: 1 | 2 | 3; readonly text: string; readonly id?: string }
  | { readonly kind: "verdict"; readonly sentences: readonly string[]; readonly how: string }
  | { readonly kind: "toc"; readonly entries: readonly TocEntry[] }
  | { readonly kind: "paragraph"; readonly text: string }
  | { readonly kind: "note"; readonly text: string }
  | { readonly kind: "table"; readonly table: Table; readonly className?: string }
  | { readonly kind: "details"; readonly summary: string; readonly blocks: readonly Block[] }
  | { readonly kind: "charts"; readonly names: readonly string[] };

const plain = (text: string): Cell => ({ text });

const HEADLINE_COLUMNS: readonly MetricName[] = ["uptime", "mttr", "censored", "cost", "unnecessary"];

function headerOf(m: MetricName): string {
  const d = METRICS[m];
  const unit = d.format === "replicaSeconds" ? " (replica-s)" : d.format === "perEpisode" ? " /episode" : "";
  return `${d.title}${unit}`;
}

function headlineTable(section: Section): Table {
  return {
    header: ["policy", "n", ...HEADLINE_COLUMNS.map(headerOf)],
    align: `lr${"r".repeat(HEADLINE_COLUMNS.length)}`,
    rows: section.rows.map((r) => [
      plain(r.policy),
      plain(String(r.n)),
      ...HEADLINE_COLUMNS.map((m) =>
        plain(
          m === "censored"
            ? `${formatValue(m, r.metrics[m].estimate)} (${r.censored} of ${r.incidents})`
            : formatInterval(m, r.metrics[m]),
        ),
      ),
    ]),
  };
}

/** Tinted by the better policy's colour when the difference is significant (model.ts `judge`), else neutral. */
function differenceCell(c: ComparisonRow, m: MetricName, policies: readonly string[]): Cell {
  const d = c.metrics[m];
  const text = formatDifference(m, d);
  const detail = formatP(d.p);
  if (d.verdict === null) return { text, detail };
  const policy = d.verdict === "a" ? c.a : c.b;
  return { text, detail, strong: `${policy} better`, winner: { policy, color: policyColor(policies, policy) } };
}

function comparisonTable(comparisons: readonly ComparisonRow[], policies: readonly string[]): Table {
  return {
    header: ["difference", "n pairs", ...HEADLINE.map((m) => METRICS[m].title)],
    align: `lr${"r".repeat(HEADLINE.length)}`,
    rows: comparisons.map((c) => [
      plain(`${c.a} − ${c.b}`),
      plain(String(c.n)),
      ...HEADLINE.map((m) => differenceCell(c, m, policies)),
    ]),
  };
}

/** `0.9889 >= 0.6617 (heuristic.uptime = 0.9889, n=18; none.uptime = 0.6617, n=18)`, per instance. */
export function gateMeasured(g: GateResult): string {
  return g.outcomes
    .map((o) => {
      const who = o.policy === null ? "" : `${o.policy}: `;
      if (o.reason !== null) return `${who}${o.reason}`;
      const refs = o.refs.map((r) => `${r.text} = ${formatNumber(r.value)}, n=${r.n}`).join("; ");
      return `${who}${formatNumber(o.left)} ${g.op} ${formatNumber(o.right)}${o.pass ? "" : " is false"} (${refs})`;
    })
    .join("; ");
}

export function buildGateTable(gates: readonly GateResult[]): Table {
  return {
    header: ["verdict", "gate", "measured", "where"],
    align: "llll",
    rows: gates.map((g) => [
      { text: g.pass ? "✔ pass" : "✘ fail", tone: g.pass ? "pass" : "fail" },
      { text: g.text, code: true },
      plain(gateMeasured(g)),
      plain(g.origin),
    ]),
  };
}

function title(s: Section): string {
  return [s.filter.fault, s.filter.frequency].filter((x) => x !== undefined).join(" / ");
}

/** How the verdict sentences (reports/verdict.ts) are reached, printed under them. */
const VERDICT_HOW =
  "Each policy against the best other one (highest uptime over the matrix; ties: lower MTTR), paired by cell and seed; a difference is named only when its 95% interval excludes 0 and p < 0.05.";

/** Rows a "why it acted" table shows before it says how many it left out. */
export const WHY_ROWS = 40;

/**
 * Why the policy proposed each action of a timeline's episode (the controller's stored
 * attributions): one row per explained step whose proposal was not noop, with what became of
 * it (applied, refused by the guard or observe-only, or nothing recorded).
 */
export function whyTable(t: Timeline): Block {
  const at = new Map(t.steps.map((s) => [s.time, s]));
  const acting = t.explanations.filter((e) => e.action > 0);
  const outcome = (time: number, action: number): string => {
    const s = at.get(time);
    if (s === undefined) return "step not stored";
    if (s.applied === action) return "applied";
    if (s.refused === action) return "refused";
    return s.applied !== 0 ? `${ACTION_NAMES[s.applied]} applied` : "not applied";
  };
  const signed = (x: number) => `${x >= 0 ? "+" : "−"}${formatNumber(Math.abs(x))}`;
  const shown = acting.slice(0, WHY_ROWS);
  const left = acting.length - shown.length;
  return {
    kind: "details",
    summary: `Why ${t.policy} proposed its actions (${t.fault}): ${acting.length} of ${t.explanations.length} explained decisions were not noop`,
    blocks: [
      {
        kind: "paragraph",
        text: "Exact Shapley values of each decision over the encoded state's features, against the background of healthy states: each feature's share of the proposed action's probability minus its mean over the background (they sum to that difference). The largest by magnitude, as the controller stored them; each feature is shown as name = value in the encoded state (share).",
      },
      {
        kind: "table",
        table: {
          header: ["time (s)", "proposed", "outcome", "probability (background)", "top attributions"],
          align: "rllrl",
          rows: shown.map((e) => [
            plain(formatNumber(e.time)),
            plain(ACTION_NAMES[e.action] ?? String(e.action)),
            plain(outcome(e.time, e.action)),
            plain(`${formatNumber(e.output)} (${formatNumber(e.base)})`),
            plain(e.top.map((f) => `${f.feature} = ${formatNumber(f.value)} (${signed(f.phi)})`).join(", ")),
          ]),
        },
      },
      ...(left > 0
        ? [
            {
              kind: "note",
              text: `${left} more not shown: \`harness explain\` gives any step's attributions.`,
            } as const,
          ]
        : []),
    ],
  };
}

/** The level-2 and level-3 headings that have an id, in order: what the table of contents lists. */
export function tocEntries(blocks: readonly Block[]): TocEntry[] {
  return blocks.flatMap((b): TocEntry[] =>
    b.kind === "heading" && b.level > 1 && b.id !== undefined
      ? [{ level: b.level as 2 | 3, text: b.text, id: b.id }]
      : b.kind === "details"
        ? tocEntries(b.blocks)
        : [],
  );
}

/**
 * The report, top to bottom. `charts` are the names of the rendered charts. The verdict and
 * the table of contents come first, so that a reader who stops after the first screen still
 * knows the answer and where the evidence for it is.
 */
export function buildDocument(model: ReportModel, charts: readonly string[]): Block[] {
  const body = buildBody(model, charts);
  const [title, ...rest] = body;
  const verdict: Block[] =
    model.verdict === undefined || model.verdict.length === 0
      ? []
      : [{ kind: "verdict", sentences: model.verdict, how: VERDICT_HOW }];
  const entries = tocEntries(rest);
  const toc: Block[] = entries.length === 0 ? [] : [{ kind: "toc", entries }];
  return [title!, ...verdict, ...toc, ...rest];
}

function buildBody(model: ReportModel, charts: readonly string[]): Block[] {
  const blocks: Block[] = [];
  const add = (...b: Block[]) => blocks.push(...b);
  const chartGroup = (names: readonly string[]) => {
    const have = names.filter((n) => charts.includes(n));
    if (have.length > 0) add({ kind: "charts", names: have });
  };
  add({ kind: "heading", level: 1, text: model.title });
  add({
    kind: "table",
    className: "context",
    table: { header: ["", ""], align: "ll", rows: model.context.map(([k, v]) => [plain(k), plain(v)]) },
  });
  add({
    kind: "paragraph",
    text: `Every figure is an estimate with its 95% interval over seeds in brackets (percentile bootstrap resampling whole seeds, since a seed's episodes share its load and fault times; ${model.resamples} resamples, seed ${model.seed}). n is the number of completed episodes behind it (pairs, for differences). Metric definitions: reports/README.md.`,
  });
  for (const text of model.notes) add({ kind: "note", text });

  if (model.gates.length > 0) {
    const passed = model.gates.filter((g) => g.pass).length;
    add({ kind: "heading", level: 2, text: `Gates: ${passed} of ${model.gates.length} passed`, id: "gates" });
    add({ kind: "table", table: buildGateTable(model.gates), className: "gates" });
  }

  add({ kind: "heading", level: 2, text: "Policies over the whole matrix", id: "policies" });
  add({ kind: "table", table: headlineTable(model.overall) });
  add({ kind: "heading", level: 2, text: "Paired differences", id: "paired" });
  add({
    kind: "paragraph",
    text: "Each row is the first policy minus the second, over the episodes both ran with the same cell and seed (the same faults and load). A policy is named better only when the 95% interval excludes 0 and the sign-flip permutation test gives p < 0.05; the HTML report tints that cell in the better policy's colour (the one it has in the charts), and leaves it white when there is no significant difference.",
  });
  if (model.overall.comparisons.length === 0) add({ kind: "paragraph", text: "(One policy: nothing to compare.)" });
  else add({ kind: "table", table: comparisonTable(model.overall.comparisons, model.policies) });
  const overviewCharts = ["mttr", "uptime-heatmap", "cost-vs-uptime"].filter((n) => charts.includes(n));
  if (overviewCharts.length > 0) {
    add({ kind: "heading", level: 2, text: "Charts: MTTR, uptime and cost", id: "charts" });
    chartGroup(overviewCharts);
  }

  add({ kind: "heading", level: 2, text: "By fault type", id: "by-fault" });
  add({
    kind: "paragraph",
    text: "Pooled over the frequencies. Where a policy loses, the SLO table below says which part of the SLO broke.",
  });
  for (const s of model.byFault) {
    add({ kind: "heading", level: 3, text: title(s), id: `fault-${title(s).replace(/[^A-Za-z0-9_-]+/g, "-")}` });
    add({ kind: "table", table: headlineTable(s) });
    if (s.comparisons.length > 0) add({ kind: "table", table: comparisonTable(s.comparisons, model.policies) });
  }

  add({ kind: "heading", level: 2, text: "Incidents and faults", id: "incidents" });
  add({
    kind: "paragraph",
    text: "An incident is a span with the SLO broken, until it held again for the confirmation window; MTTR averages closed incidents, censored ones are still open at the episode's end (the restricted mean counts them up to the end). A fault is absorbed when no incident touched its live span; unattributed downtime is SLO-broken time in incidents that started with no fault live. Definitions: reports/README.md.",
  });
  add({
    kind: "table",
    table: {
      header: ["fault", "policy", "n", "MTTR", ...INCIDENT_FIGURES.map(headerOf)],
      align: `llrr${"r".repeat(INCIDENT_FIGURES.length)}`,
      rows: [model.overall, ...model.byFault].flatMap((s) =>
        s.rows.map((r) => [
          plain(s.filter.fault ?? "all"),
          plain(r.policy),
          plain(String(r.n)),
          plain(formatInterval("mttr", r.metrics.mttr)),
          ...INCIDENT_FIGURES.map((m) => plain(formatValue(m, r.metrics[m].estimate))),
        ]),
      ),
    },
  });

  add({ kind: "heading", level: 2, text: "Why: which part of the SLO broke", id: "slo" });
  add({
    kind: "paragraph",
    text: "Share of time with the SLO broken, and with each of its parts broken (a step can break several). Uptime = 100% - SLO broken.",
  });
  add({
    kind: "table",
    table: {
      header: ["fault", "policy", "n", ...SLO_PARTS.map((m) => METRICS[m].title)],
      align: `llr${"r".repeat(SLO_PARTS.length)}`,
      rows: model.byFault.flatMap((s) =>
        s.rows.map((r) => [
          plain(s.filter.fault ?? ""),
          plain(r.policy),
          plain(String(r.n)),
          ...SLO_PARTS.map((m) => plain(formatValue(m, r.metrics[m].estimate))),
        ]),
      ),
    },
  });

  add({ kind: "heading", level: 2, text: "Actions per episode", id: "actions" });
  add({
    kind: "paragraph",
    text: "What each policy did (applied actions) and the harm it did: unnecessary (applied while no fault was live and the SLO had held for the confirmation window), harmful (the SLO broken longer over the next confirmation window than in the paired `none` episode, by more than 10% of the window), refused (by the guard or backend), regressions (raw: the SLO got worse after the action, no counterfactual), flaps (scale reversals within 300 s).",
  });
  const actionCols: MetricName[] = [...ACTION_MIX, ...ACTION_HARM];
  add({
    kind: "table",
    table: {
      header: ["policy", "n", ...actionCols.map((m) => METRICS[m].title)],
      align: `lr${"r".repeat(actionCols.length)}`,
      rows: model.overall.rows.map((r) => [
        plain(r.policy),
        plain(String(r.n)),
        ...actionCols.map((m) => plain(formatValue(m, r.metrics[m].estimate))),
      ]),
    },
  });
  chartGroup(["actions"]);

  const timelines = charts.filter((c) => c.startsWith("timeline-"));
  if (timelines.length > 0) {
    add({ kind: "heading", level: 2, text: "Episode timelines", id: "timelines" });
    chartGroup(timelines);
  }
  for (const t of model.timelines) {
    if (t.explanations.length > 0) add(whyTable(t));
  }
  if (charts.includes("training")) {
    add({ kind: "heading", level: 2, text: "Training", id: "training" });
    chartGroup(["training"]);
  }

  add({ kind: "heading", level: 2, text: "Every cell", id: "cells" });
  const cellLead = (s: Section) => [plain(s.filter.fault ?? ""), plain(s.filter.frequency ?? "")];
  add({
    kind: "details",
    summary: "Policies in each fault x frequency cell",
    blocks: [
      {
        kind: "table",
        table: {
          header: ["fault", "frequency", "policy", "n", ...HEADLINE_COLUMNS.map(headerOf)],
          align: `lllr${"r".repeat(HEADLINE_COLUMNS.length)}`,
          rows: model.byCell.flatMap((s) =>
            s.rows.map((r) => [
              ...cellLead(s),
              plain(r.policy),
              plain(String(r.n)),
              ...HEADLINE_COLUMNS.map((m) => plain(formatInterval(m, r.metrics[m]))),
            ]),
          ),
        },
      },
    ],
  });
  add({
    kind: "details",
    summary: "Paired differences in each cell",
    blocks: [
      {
        kind: "table",
        table: {
          header: ["fault", "frequency", "difference", "n pairs", ...HEADLINE.map((m) => METRICS[m].title)],
          align: `lllr${"r".repeat(HEADLINE.length)}`,
          rows: model.byCell.flatMap((s) =>
            s.comparisons.map((c) => [
              ...cellLead(s),
              plain(`${c.a} − ${c.b}`),
              plain(String(c.n)),
              ...HEADLINE.map((m) => differenceCell(c, m, model.policies)),
            ]),
          ),
        },
      },
    ],
  });
  return blocks;
}
