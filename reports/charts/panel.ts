/**
 * One Grafana panel as a vega-lite chart, for `harness dashboard snapshot` (dashboards seen
 * without Grafana): a time series as lines, one per series, with the dashboard's annotations
 * as vertical rules; a stat panel as its last value(s), in the panel's unit; "No data" where
 * the queries returned nothing. The chart fills the panel's box exactly (autosize fit), so a
 * dashboard can be laid out from the panels' grid positions.
 *
 * Row shape: series of `[unix seconds, value]` points; values that are not finite (NaN from a
 * quantile of an empty window) are left out, as Grafana draws nothing there.
 */
import type { TopLevelSpec } from "vega-lite";
import { CONFIG, SCHEMA } from "./theme.ts";

export interface PanelSeries {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

export interface PanelMarker {
  readonly time: number;
  readonly label: string;
  readonly color: string;
}

export interface PanelChart {
  readonly title: string;
  /** `timeseries` or `stat`; anything else is drawn as a time series. */
  readonly type: string;
  /** A Grafana unit id (percentunit, ms, s, bytes, reqps, short, ...). */
  readonly unit: string;
  /** Stat panels: `name` shows the series' legend instead of its value (Grafana's text mode). */
  readonly textMode?: string | undefined;
  readonly min?: number | undefined;
  readonly max?: number | undefined;
  /** The box, px. */
  readonly width: number;
  readonly height: number;
  readonly series: readonly PanelSeries[];
  readonly markers: readonly PanelMarker[];
  readonly startUnixS: number;
  readonly endUnixS: number;
}

/** A vega expression formatting `v` in the unit, as Grafana's unit would (3 significant digits). */
export function unitExpr(unit: string, v: string): string {
  switch (unit) {
    case "percentunit":
      return `format(${v}, '.3~p')`;
    case "ms":
      return `format(${v}, '.3~r') + ' ms'`;
    case "s":
      return `format(${v}, '.3~r') + ' s'`;
    case "bytes":
      return `format(${v}, '.3~s') + 'B'`;
    case "reqps":
      return `format(${v}, '.3~r') + ' req/s'`;
    default:
      // SI prefixes for large counts only: 0.756, not 756m.
      return `(abs(${v}) >= 1000 ? format(${v}, '.3~s') : format(${v}, '.3~r'))`;
  }
}

const TITLE = { fontSize: 13, anchor: "start" as const, offset: 6 };

function noData(p: PanelChart): TopLevelSpec {
  return {
    $schema: SCHEMA,
    config: CONFIG,
    title: { text: p.title, ...TITLE },
    width: p.width,
    height: p.height,
    autosize: { type: "fit", contains: "padding" },
    data: { values: [{ text: "No data" }] },
    mark: { type: "text", fontSize: 16, color: "#999" },
    encoding: { text: { field: "text" } },
  };
}

function statSpec(p: PanelChart): TopLevelSpec {
  const rows = p.series.flatMap((s, i) => {
    const last = [...s.points].reverse().find(([, v]) => Number.isFinite(v));
    return last === undefined ? [] : [{ i, name: s.name, value: last[1] }];
  });
  if (rows.length === 0) return noData(p);
  const single = rows.length === 1;
  const value = unitExpr(p.unit, "datum.value");
  return {
    $schema: SCHEMA,
    config: { ...CONFIG, view: { stroke: null } },
    title: { text: p.title, ...TITLE },
    width: p.width,
    height: p.height,
    autosize: { type: "fit", contains: "padding" },
    data: { values: rows },
    transform: [
      {
        calculate: p.textMode === "name" ? "datum.name" : single ? value : `datum.name + ': ' + ${value}`,
        as: "label",
      },
    ],
    mark: {
      type: "text",
      fontSize: single ? (p.textMode === "name" ? 14 : 30) : 12,
      fontWeight: single ? "bold" : "normal",
      color: "#1f5f99",
      limit: p.width - 24,
      ...(p.textMode === "name" ? { align: "left" as const } : {}),
    },
    encoding: {
      y: { field: "i", type: "ordinal", axis: null },
      text: { field: "label" },
      // Names are long (a sha256): from the left edge, cut at the panel's width, so that the
      // text never overflows the view (and pushes the title out of the box).
      ...(p.textMode === "name" ? { x: { value: 0 } } : {}),
    },
  };
}

function timeseriesSpec(p: PanelChart): TopLevelSpec {
  const values = p.series.flatMap((s) =>
    s.points.filter(([, v]) => Number.isFinite(v)).map(([t, v]) => ({ time: t * 1000, value: v, series: s.name })),
  );
  if (values.length === 0) return noData(p);
  const domain: [number, number] = [p.startUnixS * 1000, p.endUnixS * 1000];
  const x = {
    field: "time",
    type: "temporal" as const,
    scale: { type: "utc" as const, domain },
    // UTC, whatever the machine's zone (the snapshot's header says so); labelExpr because
    // vega-lite's `formatType: "utc"` falls back to its 12-hour multi-format here.
    axis: { title: null, labelExpr: "utcFormat(datum.value, '%H:%M')", labelFontSize: 10, tickCount: 6 },
  };
  const y = {
    field: "value",
    type: "quantitative" as const,
    scale: {
      zero: p.min === 0,
      ...(p.min !== undefined && p.max !== undefined ? { domain: [p.min, p.max] } : {}),
      ...(p.min !== undefined && p.max === undefined ? { domainMin: p.min } : {}),
    },
    axis: { title: null, labelExpr: unitExpr(p.unit, "datum.value"), labelFontSize: 10, tickCount: 4 },
  };
  const lines = {
    data: { values },
    mark: { type: "line" as const, strokeWidth: 1.5, clip: true },
    encoding: {
      x,
      y,
      color: {
        field: "series",
        type: "nominal" as const,
        legend: {
          title: null,
          orient: "bottom" as const,
          columns: 3,
          labelLimit: 150,
          labelFontSize: 10,
          symbolSize: 60,
        },
      },
    },
  };
  const layers: object[] = [lines];
  const markers = p.markers.filter((m) => m.time >= p.startUnixS && m.time <= p.endUnixS);
  if (markers.length > 0) {
    layers.unshift({
      data: { values: markers.map((m) => ({ time: m.time * 1000, color: m.color, label: m.label })) },
      mark: { type: "rule", strokeDash: [4, 3], strokeWidth: 1, opacity: 0.7 },
      encoding: { x: { field: "time", type: "temporal" }, color: { field: "color", type: "nominal", scale: null } },
    });
  }
  return {
    $schema: SCHEMA,
    config: CONFIG,
    title: { text: p.title, ...TITLE },
    width: p.width,
    height: p.height,
    autosize: { type: "fit", contains: "padding" },
    layer: layers,
    resolve: { scale: { color: "independent" } },
  } as TopLevelSpec;
}

export function panelSpec(p: PanelChart): TopLevelSpec {
  return p.type === "stat" ? statSpec(p) : timeseriesSpec(p);
}
