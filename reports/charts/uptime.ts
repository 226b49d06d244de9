/** Uptime heatmap: policy x fault type, one panel per frequency; the value printed in each cell. */
import type { TopLevelSpec } from "vega-lite";
import type { ReportModel } from "../model.ts";
import { CONFIG, SCHEMA } from "./theme.ts";

export function uptimeSpec(model: ReportModel): TopLevelSpec {
  const values = model.byCell.flatMap((s) =>
    s.rows.map((r) => ({
      fault: s.filter.fault,
      frequency: s.filter.frequency,
      policy: r.policy,
      uptime: r.metrics.uptime.estimate,
      label: `${(r.metrics.uptime.estimate * 100).toFixed(0)}%`,
      n: r.n,
    })),
  );
  const ns = [...new Set(values.map((v) => v.n))].sort((a, b) => a - b);
  const nText = ns.length === 1 ? `n = ${ns[0]} episodes per cell` : `n = ${ns[0]} to ${ns.at(-1)} episodes per cell`;
  const low = Math.min(0.5, ...values.map((v) => v.uptime).filter(Number.isFinite));
  return {
    $schema: SCHEMA,
    title: {
      text: "Uptime: share of time the SLO held (higher is better)",
      subtitle: [`Mean over seeds, per fault type, frequency and policy; ${nText}.`],
    },
    config: CONFIG,
    data: { values },
    facet: { column: { field: "frequency", type: "nominal", sort: [...model.frequencies], title: "fault frequency" } },
    spec: {
      width: { step: 62 },
      height: { step: 28 },
      encoding: {
        x: { field: "fault", type: "nominal", sort: [...model.faults], title: null, axis: { labelAngle: -30 } },
        y: { field: "policy", type: "nominal", sort: [...model.policies], title: null },
      },
      layer: [
        {
          mark: { type: "rect", stroke: "white", strokeWidth: 1 },
          encoding: {
            color: {
              field: "uptime",
              type: "quantitative",
              title: "uptime",
              scale: { scheme: "redyellowgreen", domain: [low, 1], clamp: true },
              legend: { format: ".0%", gradientLength: 120 },
            },
          },
        },
        {
          mark: { type: "text", fontSize: 11 },
          encoding: {
            text: { field: "label" },
            color: { condition: { test: `datum.uptime < ${low + (1 - low) * 0.2}`, value: "white" }, value: "black" },
          },
        },
      ],
    },
  } as TopLevelSpec;
}
