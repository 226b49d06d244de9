/**
 * What the project reads of a Grafana dashboard JSON, checked with zod at the edge: panels
 * (type, title, grid position, unit, queries) and annotation queries, the `custom`/`constant`/
 * `textbox` variables' current values. Shared by the dashboards' tests (every query against a
 * real Prometheus) and `harness dashboard snapshot` (every panel rendered without Grafana).
 *
 * Variable expansion follows Grafana's rules for the ones our dashboards use:
 * `$name` / `${name}` / `[[name]]` from the variables; `$__interval` the query step;
 * `$__range` the dashboard's range; `$__rate_interval` = max(4 × scrape interval,
 * step + scrape interval), as Grafana's Prometheus data source computes it.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { HarnessError } from "../../harness/core/errors.ts";

const targetSchema = z.object({
  refId: z.string().optional(),
  expr: z.string().optional(),
  legendFormat: z.string().optional(),
  instant: z.boolean().optional(),
  hide: z.boolean().optional(),
});

const gridPosSchema = z.object({ x: z.number(), y: z.number(), w: z.number(), h: z.number() });

const panelSchema = z.object({
  id: z.number().optional(),
  type: z.string(),
  title: z.string().default(""),
  description: z.string().optional(),
  gridPos: gridPosSchema,
  targets: z.array(targetSchema).default([]),
  options: z.object({ textMode: z.string().optional() }).optional(),
  fieldConfig: z
    .object({
      defaults: z
        .object({ unit: z.string().optional(), min: z.number().optional(), max: z.number().optional() })
        .default({}),
    })
    .optional(),
});
export type Panel = z.infer<typeof panelSchema>;

const annotationSchema = z.object({
  name: z.string(),
  enable: z.boolean().default(true),
  expr: z.string().optional(),
  titleFormat: z.string().optional(),
  iconColor: z.string().optional(),
  builtIn: z.number().optional(),
});
export type Annotation = z.infer<typeof annotationSchema>;

const variableSchema = z.object({
  name: z.string(),
  type: z.string(),
  query: z.unknown().optional(),
  current: z.object({ value: z.union([z.string(), z.array(z.string())]).optional() }).optional(),
});

export const dashboardSchema = z.object({
  uid: z.string(),
  title: z.string(),
  panels: z.array(panelSchema),
  annotations: z.object({ list: z.array(annotationSchema).default([]) }).default({ list: [] }),
  templating: z.object({ list: z.array(variableSchema).default([]) }).default({ list: [] }),
});
export type DashboardModel = z.infer<typeof dashboardSchema>;

/** A dashboard file that is not JSON or not a dashboard: says which file and where. */
export class DashboardFileError extends HarnessError {
  override name = "DashboardFileError";
  constructor(message: string) {
    super("dashboard_invalid", message);
  }
}

export function parseDashboard(json: unknown, file: string): DashboardModel {
  const r = dashboardSchema.safeParse(json);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.message} at ${i.path.join(".") || "(top)"}`).join("; ");
  throw new DashboardFileError(`${file}: not a Grafana dashboard: ${issues}`);
}

export function loadDashboard(file: string): DashboardModel {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new DashboardFileError(`${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return parseDashboard(json, file);
}

/** One PromQL query of a dashboard: a panel's target or an annotation. */
export interface DashboardQuery {
  /** `panel 3 "Latency" A` or `annotation "Chaos experiments"`: for messages. */
  readonly where: string;
  readonly panel: Panel | null;
  readonly expr: string;
  readonly legend: string;
  /** Panels that show one number (stat) ask for the last value only. */
  readonly instant: boolean;
}

/** Panels that hold no query (rows, text). */
export const LAYOUT_PANEL_TYPES: ReadonlySet<string> = new Set(["row", "text", "dashlist", "news"]);

/** Every query of the dashboard: each visible panel target, then each enabled annotation query. */
export function dashboardQueries(d: DashboardModel): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const p of d.panels) {
    for (const t of p.targets) {
      if (t.hide || t.expr === undefined) continue;
      out.push({
        where: `panel ${p.id ?? "?"} "${p.title}" ${t.refId ?? ""}`.trim(),
        panel: p,
        expr: t.expr,
        legend: t.legendFormat ?? "__auto",
        instant: t.instant === true,
      });
    }
  }
  for (const a of d.annotations.list) {
    if (!a.enable || a.builtIn === 1 || a.expr === undefined) continue;
    out.push({
      where: `annotation "${a.name}"`,
      panel: null,
      expr: a.expr,
      legend: a.titleFormat ?? a.name,
      instant: false,
    });
  }
  return out;
}

/** The variables' values as the dashboard was saved (`current`, else the first value of the query). */
export function defaultVariables(d: DashboardModel): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of d.templating.list) {
    const cur = v.current?.value;
    const value = Array.isArray(cur) ? cur[0] : cur;
    if (value !== undefined) out[v.name] = value;
    else if (typeof v.query === "string") out[v.name] = v.query.split(",")[0]!.trim();
  }
  return out;
}

export interface Interval {
  /** Query step, seconds (Grafana's `$__interval`). */
  readonly stepS: number;
  /** Range length, seconds (`$__range`). */
  readonly rangeS: number;
  /** The data source's scrape interval, seconds (for `$__rate_interval`). */
  readonly scrapeIntervalS: number;
}

/** Grafana's `$__rate_interval`: at least four scrapes, and at least one step plus a scrape. */
export function rateIntervalS(i: Interval): number {
  return Math.max(4 * i.scrapeIntervalS, i.stepS + i.scrapeIntervalS);
}

/** A duration in PromQL's syntax (whole milliseconds). */
export function promDuration(seconds: number): string {
  const ms = Math.max(1, Math.round(seconds * 1000));
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * The query as Prometheus receives it: every `$var`, `${var}`, `[[var]]` replaced. A variable
 * the dashboard does not define is an error naming it (Grafana would send it verbatim and
 * Prometheus would refuse the query with a less helpful message).
 */
export function expandQuery(expr: string, vars: Readonly<Record<string, string>>, i: Interval): string {
  const builtIn: Record<string, string> = {
    __interval: promDuration(i.stepS),
    __rate_interval: promDuration(rateIntervalS(i)),
    __range: promDuration(i.rangeS),
    __range_s: String(Math.round(i.rangeS)),
  };
  const value = (name: string): string => {
    const v = builtIn[name] ?? vars[name];
    if (v === undefined) throw new Error(`Unknown dashboard variable $${name} in: ${expr}`);
    return v;
  };
  return expr
    .replace(/\$\{(\w+)\}|\[\[(\w+)\]\]/g, (_, a: string | undefined, b: string | undefined) => value((a ?? b)!))
    .replace(/\$(\w+)/g, (_, name: string) => value(name));
}

/** Grafana's legend template: `{{label}}` from the series' labels; `__auto` (or empty) the label set. */
export function legendOf(template: string, labels: Readonly<Record<string, string>>): string {
  if (template === "__auto" || template === "") {
    const { __name__: name, ...rest } = labels;
    const inner = Object.entries(rest)
      .map(([k, v]) => `${k}="${v}"`)
      .join(", ");
    return `${name ?? ""}${inner ? `{${inner}}` : ""}` || "value";
  }
  return template.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k: string) => labels[k] ?? "");
}
