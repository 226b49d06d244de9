/**
 * MTTR by policy, one panel per fault type: each point with its 95% interval on a log-like
 * axis, so that 9.7 s and 11.0 s are told apart in the same panel as 450 s; the value and the
 * count of recoveries still open at the episode end are printed in a column beside the panel,
 * as numbers, never drawn as a bar (an open recovery has no length to draw).
 */
import type { TopLevelSpec } from "vega-lite";
import { type MetricName, metricDef } from "../metrics.ts";
import type { PolicyRow, ReportModel } from "../model.ts";
import { logTicks, niceBelow, TICK_LABEL } from "./scales.ts";
import { CONFIG, policyScale, SCHEMA } from "./theme.ts";

/** The metric the chart plots (its title comes from metrics.ts). */
const METRIC: MetricName = "mttr";

/**
 * Incidents still open when their episode ended (censored), out of all incidents: left out
 * of the mean, so the chart prints them beside it. One place to change when the model names
 * them otherwise.
 */
function openCount(r: PolicyRow): { readonly open: number; readonly of: number } {
  return { open: r.censored, of: r.incidents };
}
const OPEN_NOUN = "censored";
const OPEN_DOC = "incidents still open at their episode's end, of all incidents: left out of the mean";

const PANEL_WIDTH = 300;
/** The text column right of each panel: the value, then the open count. */
const VALUE_X = PANEL_WIDTH + 58;
const COUNT_X = PANEL_WIDTH + 66;

export function mttrSpec(model: ReportModel): TopLevelSpec {
  // The axis label carries n: "heuristic (n=18)"; the same policy keeps its colour.
  const who = (policy: string, n: number) => `${policy} (n=${n})`;
  const values = model.byFault.flatMap((s) =>
    s.rows.map((r) => {
      const m = r.metrics[METRIC];
      const mttr = Number.isFinite(m.estimate) ? m.estimate : null;
      const { open, of } = openCount(r);
      return {
        fault: s.filter.fault,
        policy: r.policy,
        order: model.policies.indexOf(r.policy),
        who: who(r.policy, r.n),
        mttr,
        lower: m.lower,
        upper: m.upper,
        value: of === 0 ? "no incident" : mttr === null ? "none closed" : `${mttr.toFixed(1)} s`,
        count: `${open}/${of} ${OPEN_NOUN}`,
        hasOpen: open > 0,
      };
    }),
  );
  const plotted = values.flatMap((v) => [v.mttr, v.lower, v.upper]).filter((x): x is number => x !== null);
  const positive = plotted.filter((x) => x > 0);
  // Log-like (symlog, linear below 1 s): 0 s keeps a place at the left edge when a policy has it.
  const lo = plotted.some((x) => x <= 0) || positive.length === 0 ? 0 : niceBelow(Math.min(...positive));
  // A little room right of the longest interval, not a whole 1-2-5 step (that can be 2x).
  const hi = Math.max(1, ...plotted) * 1.1;
  const x = {
    type: "quantitative",
    title: `${metricDef(METRIC).title} (s, log scale)`,
    scale: { type: "symlog", constant: 1, domain: [lo, hi], nice: false },
    axis: { values: logTicks(lo, hi), labelExpr: TICK_LABEL, grid: true },
  } as const;
  const y = { field: "who", type: "nominal", sort: { field: "order" }, title: null } as const;
  const color = { field: "policy", type: "nominal", scale: policyScale(model.policies), legend: null } as const;
  return {
    $schema: SCHEMA,
    title: {
      text: "Mean time to recovery by fault type (lower is better)",
      subtitle: [
        "Dot: mean time to recover over closed incidents; bar: its 95% interval over seeds; n = episodes.",
        "Log scale: equal gaps are equal ratios.",
        `Right of each panel: the mean, and ${OPEN_NOUN} = ${OPEN_DOC}.`,
      ],
    },
    config: CONFIG,
    data: { values },
    facet: { field: "fault", type: "nominal", sort: [...model.faults], title: null },
    columns: 2,
    spec: {
      width: PANEL_WIDTH,
      height: { step: 22 },
      layer: [
        {
          mark: { type: "rule", strokeWidth: 2.5 },
          encoding: { y, x: { ...x, field: "lower" }, x2: { field: "upper" }, color },
        },
        {
          mark: { type: "point", filled: true, size: 70, stroke: "white", strokeWidth: 0.8, opacity: 1 },
          encoding: { y, x: { ...x, field: "mttr" }, color },
        },
        {
          mark: { type: "text", align: "right", fontSize: 11, color: "#222" },
          encoding: { y, x: { value: VALUE_X }, text: { field: "value" } },
        },
        {
          mark: { type: "text", align: "left", fontSize: 11 },
          encoding: {
            y,
            x: { value: COUNT_X },
            text: { field: "count" },
            color: { condition: { test: "datum.hasOpen", value: "#b22222" }, value: "#999" },
          },
        },
      ],
    },
    spacing: { column: 20, row: 14 },
    resolve: { scale: { x: "shared" } },
  } as TopLevelSpec;
}
