/**
 * Uptime heatmap: policy x fault type, one panel per frequency; the value printed in each cell
 * with one decimal (99.9% and 100.0% differ in an SLO), on a fixed 0-100% colour scale so that
 * the same colour means the same uptime in every report.
 */
import type { TopLevelSpec } from "vega-lite";
import type { ReportModel } from "../model.ts";
import { CONFIG, SCHEMA } from "./theme.ts";

/** Where redyellowgreen is dark enough for white text (checked by eye on the rendered PNG). */
const DARK_BELOW = 0.15;
const DARK_ABOVE = 0.85;

export function uptimeSpec(model: ReportModel): TopLevelSpec {
  const values = model.byCell.flatMap((s) =>
    s.rows.map((r) => ({
      fault: s.filter.fault,
      frequency: s.filter.frequency,
      policy: r.policy,
      uptime: r.metrics.uptime.estimate,
      label: Number.isFinite(r.metrics.uptime.estimate) ? `${(r.metrics.uptime.estimate * 100).toFixed(1)}%` : "-",
      n: r.n,
    })),
  );
  const ns = [...new Set(values.map((v) => v.n))].sort((a, b) => a - b);
  const nText = ns.length === 1 ? `n = ${ns[0]} episodes per cell` : `n = ${ns[0]} to ${ns.at(-1)} episodes per cell`;
  return {
    $schema: SCHEMA,
    title: {
      text: "Uptime: share of time the SLO held (higher is better)",
      subtitle: [`Mean over seeds, per fault type, frequency and policy; ${nText}.`],
    },
    config: CONFIG,
    data: { values },
    // One panel per frequency, stacked: side by side, three panels of six faults would be
    // wider than the report's page and shrink to unreadable text there.
    facet: {
      row: {
        field: "frequency",
        type: "nominal",
        sort: [...model.frequencies],
        title: "fault frequency",
        header: { labelAngle: 0, labelAlign: "left" },
      },
    },
    spec: {
      width: { step: 66 },
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
              scale: { scheme: "redyellowgreen", domain: [0, 1] },
              legend: { format: ".0%", gradientLength: 120, values: [0, 0.25, 0.5, 0.75, 1] },
            },
          },
        },
        {
          mark: { type: "text", fontSize: 11 },
          encoding: {
            text: { field: "label" },
            // White on the dark ends of the scheme (deep red, deep green), black on the light middle.
            color: {
              condition: { test: `${DARK_BELOW} > datum.uptime || datum.uptime > ${DARK_ABOVE}`, value: "white" },
              value: "black",
            },
          },
        },
      ],
    },
  } as TopLevelSpec;
}
