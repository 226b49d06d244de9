/**
 * Cost (replica-seconds per episode) against uptime, one point per policy with both 95%
 * intervals, and the Pareto front: the policies no other policy beats on both at once.
 */
import type { TopLevelSpec } from "vega-lite";
import type { ReportModel } from "../model.ts";
import { CONFIG, policyScale, SCHEMA } from "./theme.ts";

export interface CostPoint {
  readonly policy: string;
  readonly cost: number;
  readonly uptime: number;
}

/**
 * The points not dominated by another (another with cost <= and uptime >=, one of them
 * strictly), sorted by cost: the choices worth making. Points without both values are out.
 */
export function paretoFront<T extends CostPoint>(points: readonly T[]): T[] {
  const ok = points.filter((p) => Number.isFinite(p.cost) && Number.isFinite(p.uptime));
  return ok
    .filter(
      (p) =>
        !ok.some(
          (q) => q !== p && q.cost <= p.cost && q.uptime >= p.uptime && (q.cost < p.cost || q.uptime > p.uptime),
        ),
    )
    .sort((a, b) => a.cost - b.cost || a.uptime - b.uptime);
}

export function costSpec(model: ReportModel): TopLevelSpec {
  const points = model.overall.rows.map((r) => {
    const c = r.metrics.cost;
    const u = r.metrics.uptime;
    return {
      policy: r.policy,
      cost: c.estimate,
      costLower: c.lower,
      costUpper: c.upper,
      uptime: u.estimate,
      uptimeLower: u.lower,
      uptimeUpper: u.upper,
      label: `${r.policy} (n=${r.n})`,
    };
  });
  const front = new Set(paretoFront(points).map((p) => p.policy));
  const values = points.map((p) => ({ ...p, front: front.has(p.policy) }));
  const color = {
    field: "policy",
    type: "nominal",
    scale: policyScale(model.policies),
    legend: null,
  } as const;
  const x = {
    field: "cost",
    type: "quantitative",
    title: "cost: replica-seconds per episode (lower is better)",
    scale: { zero: false, nice: true },
  } as const;
  const y = {
    field: "uptime",
    type: "quantitative",
    title: "uptime (higher is better)",
    scale: { zero: false, nice: true },
    axis: { format: ".0%" },
  } as const;
  return {
    $schema: SCHEMA,
    title: {
      text: "Cost against uptime per policy",
      subtitle: [
        "Bars: 95% intervals over seeds. Dashed line: the Pareto front (no other policy is both cheaper and up more).",
        "Best is top left.",
      ],
    },
    config: CONFIG,
    width: 560,
    height: 340,
    data: { values },
    layer: [
      {
        transform: [{ filter: "datum.front" }],
        mark: { type: "line", strokeDash: [6, 4], color: "#888", interpolate: "step-after" },
        encoding: { x, y, order: { field: "cost", type: "quantitative" } },
      },
      {
        mark: { type: "rule", strokeWidth: 1.5 },
        encoding: { y, x: { field: "costLower", type: "quantitative" }, x2: { field: "costUpper" }, color },
      },
      {
        mark: { type: "rule", strokeWidth: 1.5 },
        encoding: { x, y: { field: "uptimeLower", type: "quantitative" }, y2: { field: "uptimeUpper" }, color },
      },
      {
        mark: { type: "point", filled: true, size: 90, stroke: "black", strokeWidth: 0.5 },
        encoding: {
          x,
          y,
          color,
          shape: {
            field: "front",
            type: "nominal",
            scale: { domain: [true, false], range: ["diamond", "circle"] },
            legend: {
              title: null,
              orient: "bottom",
              labelLimit: 300,
              labelExpr: "datum.label === 'true' ? 'on the Pareto front' : 'dominated'",
            },
          },
        },
      },
      {
        mark: { type: "text", align: "left", dx: 8, dy: -8, fontSize: 12 },
        encoding: { x, y, text: { field: "label" }, color },
      },
    ],
  } as TopLevelSpec;
}
