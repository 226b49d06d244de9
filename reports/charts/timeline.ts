/**
 * One episode over time: CPU, latency, error rate and replicas in panels sharing the time
 * axis, with the paired `none` episode (same seed, so the same faults and load) drawn in grey
 * behind it, so that what the policy changed is the gap between the two lines. Fault live
 * spans shaded in every panel; actions (applied, and refused ones hollow) and the steps with
 * the SLO broken, for the policy and for its baseline, in a strip on top; the SLO ceilings as
 * dashed red lines. Latency on a log axis: 50 ms and 10 s both stay readable, and the SLO
 * line sits where the eye can compare it with either.
 */
import type { TopLevelSpec } from "vega-lite";
import { ACTION_NAMES } from "../../harness/core/contract.ts";
import type { Timeline } from "../load.ts";
import { logTicks, TICK_LABEL } from "./scales.ts";
import { ACTION_COLORS, CONFIG, policyColor, SCHEMA } from "./theme.ts";

const WIDTH = 680;
const PANEL = 84;
const BASELINE_GREY = "#9a9a9a";

/** Lowest error rate the log axis shows: below it (0 included) is drawn at it. */
const ERROR_FLOOR = 0.001;

/** Log-axis domain covering every value and the SLO, with a margin of about a sixth of a decade. */
export function logDomain(values: readonly number[], slo: number): [number, number] {
  const positive = [...values, slo].filter((v) => v > 0 && Number.isFinite(v));
  return [Math.min(...positive) / 1.5, Math.max(...positive) * 1.5];
}

export function timelineSpec(t: Timeline, policies: readonly string[]): TopLevelSpec {
  const base = t.baseline;
  const who = t.policy;
  const baseWho = base === null ? null : `${base.policy} (paired: same seed and faults)`;
  const series = (steps: Timeline["steps"], name: string) =>
    steps.map((s) => ({
      who: name,
      time: s.time,
      cpu: s.cpu,
      // A log axis has no place for 0: such a sample (none seen so far) is a gap, not a dive.
      latency: s.latencyMs > 0 ? s.latencyMs : null,
      errors: Math.max(s.errorRate, ERROR_FLOOR),
      desired: s.desired,
      ready: s.ready,
    }));
  const steps = [...(base === null ? [] : series(base.steps, baseWho!)), ...series(t.steps, who)];
  const marks = [
    ...t.steps
      .filter((s) => s.applied !== 0)
      .map((s) => ({ time: s.time, row: ACTION_NAMES[s.applied], refused: false })),
    ...t.steps
      .filter((s) => s.refused !== 0)
      .map((s) => ({ time: s.time, row: ACTION_NAMES[s.refused], refused: true })),
  ];
  const brokenRow = `SLO broken: ${who}`;
  const baseBrokenRow = base === null ? null : `SLO broken: ${base.policy}`;
  const broken = [
    ...t.steps.filter((s) => !s.sloOk).map((s) => ({ time: s.time, row: brokenRow, baseline: false })),
    ...(base === null ? [] : base.steps.filter((s) => !s.sloOk)).map((s) => ({
      time: s.time,
      row: baseBrokenRow!,
      baseline: true,
    })),
  ];
  const faults = t.faults.map((f) => ({ from: f.from, to: f.to, detail: f.detail, end: f.end }));
  const endKinds = new Set(t.faults.map((f) => f.end));
  const x = {
    field: "time",
    type: "quantitative",
    title: "time (s)",
    scale: { domain: [0, t.endS], nice: false },
  } as const;
  const hiddenX = { ...x, axis: { title: null, labels: false, ticks: false } } as const;
  const shade = {
    data: { name: "faults" },
    mark: { type: "rect", color: "#f28e2b", opacity: 0.16 },
    encoding: { x: { field: "from", type: "quantitative" }, x2: { field: "to" } },
  } as const;
  const whoDomain = base === null ? [who] : [baseWho!, who];
  const whoRange = base === null ? [policyColor(policies, who)] : [BASELINE_GREY, policyColor(policies, who)];
  const whoColor = {
    field: "who",
    type: "nominal",
    title: null,
    scale: { domain: whoDomain, range: whoRange },
  } as const;
  /** One metric: the baseline's line first (grey, thin), the policy's over it. */
  const line = (field: string, title: string, y: object = {}) =>
    whoDomain.map((name, i) => ({
      data: { name: "steps" },
      transform: [{ filter: `datum.who === ${JSON.stringify(name)}` }],
      mark: {
        type: "line",
        interpolate: "step-after",
        color: whoRange[i],
        strokeWidth: name === who ? 1.7 : 1.2,
      },
      encoding: { x: hiddenX, y: { field, type: "quantitative", title, ...y } },
    }));
  const ceiling = (value: number, label: string) => [
    {
      data: { values: [{ y: value }] },
      mark: { type: "rule", color: "#d62728", strokeDash: [5, 3], strokeWidth: 1.5 },
      encoding: { y: { field: "y", type: "quantitative" } },
    },
    {
      data: { values: [{ y: value, label }] },
      mark: { type: "text", color: "#d62728", align: "right", dy: -6, fontSize: 10.5, fontWeight: "bold" },
      encoding: { y: { field: "y", type: "quantitative" }, x: { value: WIDTH - 2 }, text: { field: "label" } },
    },
  ];
  const FAULT_ROW = "fault injected";
  const rows = [FAULT_ROW, ...ACTION_NAMES.slice(1), brokenRow, ...(baseBrokenRow === null ? [] : [baseBrokenRow])];
  const rowY = { field: "row", type: "nominal", sort: rows, scale: { domain: rows }, title: null } as const;
  const actionScale = { domain: Object.keys(ACTION_COLORS), range: Object.values(ACTION_COLORS) };
  const lat = logDomain(
    steps.flatMap((s) => (s.latency === null ? [] : [s.latency])),
    t.sloLatencyMs,
  );
  const err: [number, number] = [
    ERROR_FLOOR,
    Math.min(
      1,
      logDomain(
        steps.map((s) => s.errors),
        t.sloErrorRate,
      )[1],
    ),
  ];
  const spanWords =
    endKinds.has("ended") || !endKinds.has("cleared")
      ? "a fault's effect is live (injection until its effect is gone, or the episode's end)"
      : "a fault is active (injection until it was cleared, or the episode's end)";
  return {
    $schema: SCHEMA,
    title: {
      text: `${t.fault}: one episode of ${t.policy}${base === null ? "" : ` against ${base.policy}`}`,
      subtitle: [
        `Frequency ${t.frequency}, seed ${t.seed}: the ${t.policy} episode with the most faults (n = 1 episode).`,
        base === null
          ? "No paired baseline episode in this run."
          : `Grey: the ${base.policy} episode of the same cell and seed (same faults, same load); coloured: ${t.policy}.`,
        `Orange bands: ${spanWords}.`,
        `Dashed red: the SLO ceiling. Latency and error rate on log axes (errors below ${ERROR_FLOOR * 100}% drawn at ${ERROR_FLOOR * 100}%).`,
        "Top strip: fault injections (triangles), actions applied (filled dots) and refused by the guard (hollow),",
        "steps with the SLO broken (red).",
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
          ...[false, true].map((isBase) => ({
            data: { name: "broken" },
            transform: [{ filter: `${isBase ? "" : "!"}datum.baseline` }],
            // The baseline's broken steps in a muted red: context, not the episode under study.
            mark: { type: "tick", thickness: 2, color: isBase ? "#c9a0a0" : "#d62728" },
            encoding: { x: hiddenX, y: rowY },
          })),
          // Every injection marked: a fault whose effect ended within the step has no band to see.
          {
            data: { name: "faults" },
            transform: [{ calculate: JSON.stringify(FAULT_ROW), as: "row" }],
            mark: { type: "point", shape: "triangle-down", filled: true, size: 50, color: "#e8710a", opacity: 1 },
            encoding: { x: { ...hiddenX, field: "from" }, y: rowY },
          },
          {
            data: { name: "marks" },
            mark: { type: "point", size: 45, strokeWidth: 1.5 },
            encoding: {
              x: hiddenX,
              y: rowY,
              color: { field: "row", type: "nominal", scale: actionScale, legend: null },
              fill: {
                condition: { test: "datum.refused", value: "white" },
                field: "row",
                type: "nominal",
                scale: actionScale,
                legend: null,
              },
            },
          },
        ],
      },
      { width: WIDTH, height: PANEL, layer: [shade, ...line("cpu", "CPU", { axis: { format: ".0%" } })] },
      {
        width: WIDTH,
        height: PANEL + 20,
        layer: [
          shade,
          ...line("latency", "latency (ms, log)", {
            scale: { type: "log", domain: lat, nice: false },
            axis: { values: logTicks(lat[0], lat[1], 0, 5), labelExpr: TICK_LABEL, grid: true },
          }),
          ...ceiling(t.sloLatencyMs, `SLO ${t.sloLatencyMs} ms`),
        ],
      },
      {
        width: WIDTH,
        height: PANEL,
        layer: [
          shade,
          // Log too: an SLO of 1% stays visible under error rates up to 100%.
          ...line("errors", "error rate (log)", {
            scale: { type: "log", domain: err, nice: false },
            axis: { values: logTicks(err[0], err[1], 0, 4), format: "~%", grid: true },
          }),
          ...ceiling(t.sloErrorRate, `SLO ${t.sloErrorRate * 100}%`),
        ],
      },
      {
        width: WIDTH,
        height: PANEL,
        layer: [
          shade,
          {
            data: { name: "steps" },
            transform: [
              { fold: ["desired", "ready"], as: ["kind", "replicas"] },
              // The baseline never scales: its ready replicas are enough to compare.
              ...(base === null ? [] : [{ filter: `datum.who === ${JSON.stringify(who)} || datum.kind === 'ready'` }]),
            ],
            mark: { type: "line", interpolate: "step-after" },
            encoding: {
              x,
              y: { field: "replicas", type: "quantitative", title: "replicas", axis: { tickMinStep: 1 } },
              color: { ...whoColor, legend: { orient: "bottom", labelLimit: 400 } },
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
              detail: { field: "who" },
            },
          },
        ],
      },
    ],
    spacing: 6,
    resolve: { scale: { color: "independent", fill: "independent", strokeDash: "independent" } },
  } as TopLevelSpec;
}
