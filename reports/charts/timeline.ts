/**
 * One episode over time: CPU, latency, error rate and replicas in panels sharing the time
 * axis; fault spans shaded in every panel; actions (applied, and refused ones hollow) and the
 * steps with the SLO broken in a strip on top; the SLO ceilings as dashed red lines.
 */
import type { TopLevelSpec } from "vega-lite";
import { ACTION_NAMES } from "../../harness/contract.ts";
import type { Timeline } from "../load.ts";
import { ACTION_COLORS, CONFIG, SCHEMA } from "./theme.ts";

const WIDTH = 680;
const PANEL = 80;

export function timelineSpec(t: Timeline): TopLevelSpec {
  const steps = t.steps.map((s) => ({
    time: s.time,
    cpu: s.cpu,
    latency: s.latencyMs,
    errors: s.errorRate,
    desired: s.desired,
    ready: s.ready,
  }));
  const marks = [
    ...t.steps
      .filter((s) => s.applied !== 0)
      .map((s) => ({ time: s.time, row: ACTION_NAMES[s.applied], refused: false })),
    ...t.steps
      .filter((s) => s.refused !== 0)
      .map((s) => ({ time: s.time, row: ACTION_NAMES[s.refused], refused: true })),
  ];
  const broken = t.steps.filter((s) => !s.sloOk).map((s) => ({ time: s.time, row: "SLO broken" }));
  const faults = t.faults.map((f) => ({ from: f.from, to: f.to, detail: f.detail }));
  const x = {
    field: "time",
    type: "quantitative",
    title: "time (s)",
    scale: { domain: [0, t.endS], nice: false },
  } as const;
  const hiddenX = { ...x, axis: { title: null, labels: false, ticks: false } } as const;
  const shade = {
    data: { name: "faults" },
    mark: { type: "rect", color: "#f28e2b", opacity: 0.18 },
    encoding: { x: { field: "from", type: "quantitative" }, x2: { field: "to" } },
  } as const;
  const line = (field: string, title: string, format?: string, xEnc: object = hiddenX) => ({
    data: { name: "steps" },
    mark: { type: "line", color: "#4e79a7", interpolate: "step-after" },
    encoding: {
      x: xEnc,
      y: { field, type: "quantitative", title, ...(format === undefined ? {} : { axis: { format } }) },
    },
  });
  const ceiling = (value: number, label: string) => [
    {
      data: { values: [{ y: value }] },
      mark: { type: "rule", color: "#d62728", strokeDash: [5, 3] },
      encoding: { y: { field: "y", type: "quantitative" } },
    },
    {
      data: { values: [{ y: value, label }] },
      mark: { type: "text", color: "#d62728", align: "right", dy: -5, fontSize: 10 },
      encoding: { y: { field: "y", type: "quantitative" }, x: { value: WIDTH - 2 }, text: { field: "label" } },
    },
  ];
  const rows = [...ACTION_NAMES.slice(1), "SLO broken"];
  return {
    $schema: SCHEMA,
    title: {
      text: `${t.fault}: one episode of ${t.policy}`,
      subtitle: [
        `Frequency ${t.frequency}, seed ${t.seed}: the ${t.policy} episode with the most faults (n = 1 episode).`,
        "Orange bands: a fault is active. Dashed red: the SLO ceiling.",
        "Top strip: actions applied (filled dots), refused by the guard (hollow), steps with the SLO broken (red).",
      ],
    },
    config: CONFIG,
    datasets: { steps, faults, marks, broken },
    vconcat: [
      {
        width: WIDTH,
        height: { step: 13 },
        layer: [
          shade,
          {
            data: { name: "broken" },
            mark: { type: "tick", color: "#d62728", thickness: 2 },
            encoding: {
              x: hiddenX,
              y: { field: "row", type: "nominal", sort: rows, scale: { domain: rows }, title: null },
            },
          },
          {
            data: { name: "marks" },
            mark: { type: "point", size: 45, strokeWidth: 1.5 },
            encoding: {
              x: hiddenX,
              y: { field: "row", type: "nominal", sort: rows, scale: { domain: rows }, title: null },
              color: {
                field: "row",
                type: "nominal",
                scale: { domain: Object.keys(ACTION_COLORS), range: Object.values(ACTION_COLORS) },
                legend: null,
              },
              fill: {
                condition: { test: "datum.refused", value: "white" },
                field: "row",
                type: "nominal",
                scale: { domain: Object.keys(ACTION_COLORS), range: Object.values(ACTION_COLORS) },
                legend: null,
              },
            },
          },
        ],
      },
      { width: WIDTH, height: PANEL, layer: [shade, line("cpu", "CPU", ".0%")] },
      {
        width: WIDTH,
        height: PANEL,
        layer: [shade, line("latency", "latency (ms)"), ...ceiling(t.sloLatencyMs, `SLO ${t.sloLatencyMs} ms`)],
      },
      {
        width: WIDTH,
        height: PANEL,
        layer: [shade, line("errors", "error rate", ".1%"), ...ceiling(t.sloErrorRate, `SLO ${t.sloErrorRate * 100}%`)],
      },
      {
        width: WIDTH,
        height: PANEL,
        layer: [
          shade,
          {
            data: { name: "steps" },
            transform: [{ fold: ["desired", "ready"], as: ["kind", "replicas"] }],
            mark: { type: "line", interpolate: "step-after" },
            encoding: {
              x,
              y: { field: "replicas", type: "quantitative", title: "replicas", axis: { tickMinStep: 1 } },
              color: {
                field: "kind",
                type: "nominal",
                title: null,
                scale: { domain: ["desired", "ready"], range: ["#9c755f", "#59a14f"] },
                legend: { orient: "bottom" },
              },
              strokeDash: {
                field: "kind",
                type: "nominal",
                title: null,
                scale: {
                  domain: ["desired", "ready"],
                  range: [
                    [4, 2],
                    [1, 0],
                  ],
                },
                legend: { orient: "bottom" },
              },
            },
          },
        ],
      },
    ],
    spacing: 6,
    resolve: { scale: { color: "independent", fill: "independent", strokeDash: "independent" } },
  } as TopLevelSpec;
}
