/**
 * Cost (replica-seconds per episode) against uptime, one point per policy with both 95%
 * intervals, and the Pareto front: the policies no other policy beats on both at once.
 * When the policies that matter (uptime within {@link ZOOM_WITHIN} of the best) sit in a small
 * corner of the whole picture, a second panel zooms onto them, so that a 0.2 pp gap between
 * two good policies is as visible as the 50 pp gap to a bad one. Labels are placed in pixels
 * (labels.ts) so that none overlaps a point or another label.
 */
import type { TopLevelSpec } from "vega-lite";
import type { ReportModel } from "../model.ts";
import { type Anchor, type Box, placeLabels } from "./labels.ts";
import { textWidth } from "./text-width.ts";
import { CONFIG, policyScale, SCHEMA } from "./theme.ts";

export interface CostPoint {
  readonly policy: string;
  readonly cost: number;
  readonly uptime: number;
}

/** Policies within this much uptime (a share) of the best one are the ones the zoom shows. */
export const ZOOM_WITHIN = 0.1;

const WIDTH = 400;
const HEIGHT = 300;
const LABEL_FONT = 12;
const POINT_SIZE = 90;

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

interface Point extends CostPoint {
  readonly costLower: number | null;
  readonly costUpper: number | null;
  readonly uptimeLower: number | null;
  readonly uptimeUpper: number | null;
  readonly label: string;
  readonly front: boolean;
}

type Domain = readonly [number, number];

/**
 * The range of every estimate and interval end of `points`, at least `minSpan` wide, widened
 * by `pad` of its width on each side; uptime kept at or below 100%.
 */
export function extent(points: readonly Point[], pad = 0.08): { cost: Domain; uptime: Domain } {
  const span = (values: readonly number[], minSpan: number, max = Number.POSITIVE_INFINITY): Domain => {
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    const width = Math.max(hi - lo, minSpan);
    const mid = (lo + hi) / 2;
    const top = mid + width / 2 + width * pad;
    const shift = Math.max(0, top - max);
    return [mid - width / 2 - width * pad - shift, top - shift];
  };
  const all = (k: "cost" | "uptime") =>
    points.flatMap((p) => [p[k], p[`${k}Lower`], p[`${k}Upper`]]).filter((v): v is number => v !== null);
  const cost = all("cost");
  return {
    cost: span(cost, Math.max(1, Math.max(...cost.map(Math.abs)) * 0.02)),
    uptime: span(all("uptime"), 0.01, 1),
  };
}

/** The policies the zoom shows: uptime within {@link ZOOM_WITHIN} of the best. Null: no zoom worth drawing. */
export function zoomed<T extends CostPoint>(points: readonly T[]): T[] | null {
  const ok = points.filter((p) => Number.isFinite(p.cost) && Number.isFinite(p.uptime));
  if (ok.length < 3) return null;
  const best = Math.max(...ok.map((p) => p.uptime));
  const near = ok.filter((p) => p.uptime >= best - ZOOM_WITHIN);
  if (near.length < 2 || near.length === ok.length) return null;
  return near;
}

/** Pixel position of a value in a panel: x from the left, y from the top. */
const px = (v: number, d: Domain, size: number) => ((v - d[0]) / (d[1] - d[0])) * size;
const toData = (p: number, d: Domain, size: number) => d[0] + (p / size) * (d[1] - d[0]);

/**
 * The labels of `points` in a panel with these domains, clear of every point, interval bar and
 * step of the Pareto `front`; a label that fits nowhere is left out.
 */
function labelRows(points: readonly Point[], front: readonly Point[], x: Domain, y: Domain) {
  const r = Math.sqrt(POINT_SIZE / Math.PI) + 1;
  const X = (v: number) => px(v, x, WIDTH);
  const Y = (v: number) => HEIGHT - px(v, y, HEIGHT);
  const hBar = (x1: number, x2: number, yy: number): Box => ({
    left: Math.min(X(x1), X(x2)),
    right: Math.max(X(x1), X(x2)),
    top: Y(yy) - 1,
    bottom: Y(yy) + 1,
  });
  const vBar = (xx: number, y1: number, y2: number): Box => ({
    left: X(xx) - 1,
    right: X(xx) + 1,
    top: Math.min(Y(y1), Y(y2)),
    bottom: Math.max(Y(y1), Y(y2)),
  });
  // The interval bars and the front's steps (step-after: across at the left point's uptime, then up).
  const obstacles: Box[] = [
    ...points.flatMap((p) => [
      ...(p.costLower === null || p.costUpper === null ? [] : [hBar(p.costLower, p.costUpper, p.uptime)]),
      ...(p.uptimeLower === null || p.uptimeUpper === null ? [] : [vBar(p.cost, p.uptimeLower, p.uptimeUpper)]),
    ]),
    ...front.slice(1).flatMap((q, i) => {
      const p = front[i]!;
      return [hBar(p.cost, q.cost, p.uptime), vBar(q.cost, p.uptime, q.uptime)];
    }),
  ];
  // Top first: the policies with the best uptime get the best spots.
  const order = [...points].sort((a, b) => b.uptime - a.uptime || a.cost - b.cost);
  const anchors: Anchor[] = order.map((p) => ({
    x: px(p.cost, x, WIDTH),
    y: HEIGHT - px(p.uptime, y, HEIGHT),
    r,
    width: textWidth(p.label, LABEL_FONT),
    height: LABEL_FONT + 2,
  }));
  return placeLabels(anchors, { width: WIDTH, height: HEIGHT }, obstacles).flatMap((placed, i) => {
    if (placed === null) return [];
    const p = order[i]!;
    const a = anchors[i]!;
    // A leader ends at the label's nearest edge: its side, or its bottom or top when it sits above or below.
    const edgeX = placed.x > a.x ? placed.x : Math.min(placed.x + a.width, a.x);
    const edgeY = edgeX !== a.x ? placed.y : placed.y < a.y ? placed.y + a.height / 2 : placed.y - a.height / 2;
    return [
      {
        policy: p.policy,
        label: p.label,
        cost: toData(placed.x, x, WIDTH),
        uptime: toData(HEIGHT - placed.y, y, HEIGHT),
        leader: placed.leader,
        fromCost: p.cost,
        fromUptime: p.uptime,
        toCost: toData(edgeX, x, WIDTH),
        toUptime: toData(HEIGHT - edgeY, y, HEIGHT),
      },
    ];
  });
}

interface PanelOptions {
  readonly points: readonly Point[];
  /** The Pareto front of every policy (a zoom shows the part of it inside). */
  readonly front: readonly Point[];
  readonly domains: { readonly cost: Domain; readonly uptime: Domain };
  readonly title: string;
  /** The policies to label (the overview leaves the zoomed ones to the zoom). */
  readonly labelled: readonly Point[];
  /** Layers drawn first (the zoom's outline). */
  readonly under?: readonly object[];
}

function panel(model: ReportModel, o: PanelOptions) {
  const { points, domains } = o;
  const labels = labelRows(o.labelled, o.front, domains.cost, domains.uptime);
  const color = { field: "policy", type: "nominal", scale: policyScale(model.policies), legend: null } as const;
  const x = {
    field: "cost",
    type: "quantitative",
    title: "cost: replica-seconds per episode (lower is better)",
    scale: { domain: [...domains.cost], nice: false, zero: false },
  } as const;
  const y = {
    field: "uptime",
    type: "quantitative",
    title: "uptime (higher is better)",
    scale: { domain: [...domains.uptime], nice: false, zero: false },
    axis: { format: domains.uptime[1] - domains.uptime[0] < 0.05 ? ".1%" : ".0%" },
  } as const;
  const q = (field: string) => ({ ...x, field, title: null });
  const u = (field: string) => ({ ...y, field, title: null });
  return {
    ...(o.title === "" ? {} : { title: { text: o.title, fontSize: 12 } }),
    width: WIDTH,
    height: HEIGHT,
    layer: [
      ...(o.under ?? []),
      {
        data: { values: o.front },
        mark: { type: "line", strokeDash: [6, 4], color: "#888", interpolate: "step-after", clip: true },
        encoding: { x, y, order: { field: "cost", type: "quantitative" } },
      },
      {
        data: { values: points },
        mark: { type: "rule", strokeWidth: 1.5, clip: true },
        encoding: { y, x: q("costLower"), x2: { field: "costUpper" }, color },
      },
      {
        data: { values: points },
        mark: { type: "rule", strokeWidth: 1.5, clip: true },
        encoding: { x, y: u("uptimeLower"), y2: { field: "uptimeUpper" }, color },
      },
      {
        data: { values: points },
        mark: { type: "point", filled: true, size: POINT_SIZE, stroke: "black", strokeWidth: 0.5, opacity: 1 },
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
        data: { values: labels.filter((l) => l.leader) },
        mark: { type: "rule", strokeWidth: 0.8, color: "#777" },
        encoding: { x: q("fromCost"), y: u("fromUptime"), x2: { field: "toCost" }, y2: { field: "toUptime" } },
      },
      {
        data: { values: labels },
        mark: { type: "text", align: "left", baseline: "middle", fontSize: LABEL_FONT },
        encoding: { x, y, text: { field: "label" }, color },
      },
    ],
  };
}

export function costSpec(model: ReportModel): TopLevelSpec {
  const raw = model.overall.rows.map((r) => {
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
  const front = new Set(paretoFront(raw).map((p) => p.policy));
  const points: Point[] = raw
    .filter((p) => Number.isFinite(p.cost) && Number.isFinite(p.uptime))
    .map((p) => ({ ...p, front: front.has(p.policy) }));
  const all = extent(points);
  const near = zoomed(points);
  const zoom = near === null ? null : extent(near);
  // Worth a panel only when it magnifies: the zoomed box is at most half the whole on some axis.
  const magnifies =
    zoom !== null &&
    (zoom.cost[1] - zoom.cost[0] <= (all.cost[1] - all.cost[0]) / 2 ||
      zoom.uptime[1] - zoom.uptime[0] <= (all.uptime[1] - all.uptime[0]) / 2);
  const subtitle = [
    "Bars: 95% intervals over seeds. Dashed line: the Pareto front",
    "(no other policy is both cheaper and up more). Best is top left.",
  ];
  const title = { text: "Cost against uptime per policy", subtitle };
  const frontPoints = paretoFront(points);
  if (!magnifies || zoom === null || near === null) {
    return {
      $schema: SCHEMA,
      config: CONFIG,
      ...panel(model, { points, front: frontPoints, domains: all, title: "", labelled: points }),
      title,
    } as unknown as TopLevelSpec;
  }
  // The zoomed region, outlined on the overview.
  const outline = {
    data: { values: [{ x: zoom.cost[0], x2: zoom.cost[1], y: zoom.uptime[0], y2: zoom.uptime[1] }] },
    mark: { type: "rect", fill: null, stroke: "#555", strokeDash: [3, 3], strokeWidth: 1 },
    encoding: {
      x: { field: "x", type: "quantitative", scale: { domain: [...all.cost], nice: false, zero: false } },
      x2: { field: "x2" },
      y: { field: "y", type: "quantitative", scale: { domain: [...all.uptime], nice: false, zero: false } },
      y2: { field: "y2" },
    },
  };
  const names = near.map((p) => p.policy).join(", ");
  return {
    $schema: SCHEMA,
    title: {
      ...title,
      subtitle: [
        ...subtitle,
        `Right: zoom on the policies within ${ZOOM_WITHIN * 100} pp of the best uptime (${names}).`,
      ],
    },
    config: CONFIG,
    hconcat: [
      // The zoomed policies are labelled in the zoom, where they have room.
      panel(model, {
        points,
        front: frontPoints,
        domains: all,
        title: "every policy (dotted box: the zoom)",
        labelled: points.filter((p) => !near.includes(p)),
        under: [outline],
      }),
      panel(model, { points: near, front: frontPoints, domains: zoom, title: `zoom: ${names}`, labelled: near }),
    ],
    resolve: { scale: { x: "independent", y: "independent" } },
  } as unknown as TopLevelSpec;
}
