/**
 * `harness dashboard snapshot`: the dashboards of cluster/grafana/ seen without Grafana. Each
 * panel's queries run against a Prometheus over a time range as Grafana would run them
 * (cluster/grafana/query.ts), each panel is drawn with the report pipeline (vega-lite ->
 * SVG -> PNG, reports/), and the panels are laid out on the dashboard's own grid:
 *
 *   DIR/<uid>.svg, DIR/<uid>.png        the whole dashboard (panels at their grid positions)
 *   DIR/<uid>/<id>-<title>.svg|.png     each panel alone
 *   DIR/index.html                      every dashboard, with the range, source and "No data" list
 *
 * The annotations (chaos experiments, recoveries) are drawn as vertical rules in every time
 * series panel. Panels whose queries return nothing say "No data", as in Grafana, and are
 * listed in the result.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import {
  type DashboardModel,
  defaultVariables,
  LAYOUT_PANEL_TYPES,
  loadDashboard,
} from "../../cluster/grafana/model.ts";
import { noData, type QueryResult, runDashboardQueries } from "../../cluster/grafana/query.ts";
import { type PanelMarker, panelSpec } from "../../reports/charts/panel.ts";
import { FONT } from "../../reports/charts/theme.ts";
import { renderSvg, scopeSvgIds, svgToPng } from "../../reports/render.ts";

/** Grafana's grid: 24 columns; one height unit is 30 px there, a little more here for the legends. */
const COL_PX = 62.5;
const ROW_PX = 34;
const GAP_PX = 6;
const HEADER_PX = 64;
const WIDTH_PX = 24 * COL_PX;

export interface SnapshotOptions {
  readonly prometheusUrl: string;
  readonly outDir: string;
  /** Dashboard JSON files. */
  readonly dashboards: readonly string[];
  readonly startUnixS: number;
  readonly endUnixS: number;
  /** Seconds between points. @default about 300 points over the range, at least the scrape interval */
  readonly stepS?: number;
  /** The Prometheus's scrape interval, seconds (for `$__rate_interval`). @default 15 */
  readonly scrapeIntervalS?: number;
  /** Variable values over the dashboards' saved ones (e.g. namespace, deployment). */
  readonly vars?: Readonly<Record<string, string>>;
  /** PNG files beside the SVGs. @default true */
  readonly png?: boolean;
  readonly signal?: AbortSignal;
}

export interface DashboardSnapshot {
  readonly uid: string;
  readonly title: string;
  readonly file: string;
  readonly svg: string;
  readonly png: string | null;
  readonly panels: number;
  /** One line per query that returned no data (panel and query). */
  readonly noData: readonly string[];
}

export interface SnapshotResult {
  readonly dashboards: readonly DashboardSnapshot[];
  readonly index: string;
  readonly stepS: number;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fileSlug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "") || "panel"
  );
}

function iso(unixS: number): string {
  return new Date(unixS * 1000).toISOString().replace(/\.\d+Z$/, "Z");
}

/** Annotation results -> markers: the first point of each run of points (Grafana merges a run into one region). */
function markersOf(d: DashboardModel, results: readonly QueryResult[], stepS: number): PanelMarker[] {
  const out: PanelMarker[] = [];
  for (const r of results) {
    if (r.query.panel !== null) continue;
    const a = d.annotations.list.find((x) => r.query.where === `annotation "${x.name}"`);
    const color = a?.iconColor ?? "#d62728";
    for (const s of r.series) {
      let last = Number.NEGATIVE_INFINITY;
      for (const [t, v] of s.points) {
        if (!Number.isFinite(v)) continue;
        if (t - last > stepS * 1.5) out.push({ time: t, label: s.name, color: cssColor(color) });
        last = t;
      }
    }
  }
  return out;
}

/** Grafana's named colours that our dashboards use, as CSS colours. */
function cssColor(c: string): string {
  return ({ red: "#d62728", green: "#2ca02c", blue: "#1f77b4", orange: "#ff7f0e" } as Record<string, string>)[c] ?? c;
}

async function snapshotDashboard(
  file: string,
  o: SnapshotOptions,
  stepS: number,
): Promise<DashboardSnapshot & { svgText: string }> {
  const d = loadDashboard(file);
  const vars = { ...defaultVariables(d), ...o.vars };
  const results = await runDashboardQueries(d, {
    prometheusUrl: o.prometheusUrl,
    range: { startUnixS: o.startUnixS, endUnixS: o.endUnixS, stepS, scrapeIntervalS: o.scrapeIntervalS ?? 15 },
    vars,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const markers = markersOf(d, results, stepS);
  const panelDir = join(o.outDir, d.uid);
  mkdirSync(panelDir, { recursive: true });

  const parts: string[] = [];
  let bottom = 0;
  let panels = 0;
  for (const p of d.panels) {
    const { x, y, w, h } = p.gridPos;
    const left = x * COL_PX + GAP_PX / 2;
    const top = HEADER_PX + y * ROW_PX + GAP_PX / 2;
    const width = w * COL_PX - GAP_PX;
    const height = h * ROW_PX - GAP_PX;
    bottom = Math.max(bottom, top + height);
    const title = p.title.replace(/\$(\w+)/g, (m, name: string) => vars[name] ?? m);
    if (p.type === "row") {
      parts.push(
        `<text x="${left}" y="${top + height - 6}" font-family="${FONT}" font-size="15" font-weight="bold" fill="#333">${escapeXml(title)}</text>`,
      );
      continue;
    }
    if (LAYOUT_PANEL_TYPES.has(p.type)) continue;
    panels++;
    const series = results.filter((r) => r.query.panel === p).flatMap((r) => r.series);
    const defaults = p.fieldConfig?.defaults ?? {};
    const spec = panelSpec({
      title,
      type: p.type,
      unit: defaults.unit ?? "short",
      textMode: p.options?.textMode,
      min: defaults.min,
      max: defaults.max,
      width,
      height,
      series,
      markers,
      startUnixS: o.startUnixS,
      endUnixS: o.endUnixS,
    });
    const { svg } = await renderSvg(spec);
    const name = `${p.id ?? panels}-${fileSlug(p.title)}`;
    writeFileSync(join(panelDir, `${name}.svg`), svg);
    if (o.png !== false) writeFileSync(join(panelDir, `${name}.png`), svgToPng(svg));
    const scoped = scopeSvgIds(svg.replace(/^<\?xml[^>]*>\s*/, ""), `p${p.id ?? panels}`);
    parts.push(
      `<rect x="${left}" y="${top}" width="${width}" height="${height}" fill="white" stroke="#d8d8d8" rx="3"/>`,
      scoped.replace(/^<svg /, `<svg x="${left}" y="${top}" `),
    );
  }

  const varsText = Object.entries(vars)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  const key = d.annotations.list
    .filter((a) => a.enable && a.expr !== undefined)
    .map((a) => `<tspan fill="${cssColor(a.iconColor ?? "red")}">┆ ${escapeXml(a.name)}</tspan>`)
    .join("  ");
  const height = Math.ceil(bottom + GAP_PX);
  const svgText = [
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${WIDTH_PX}" height="${height}" viewBox="0 0 ${WIDTH_PX} ${height}">`,
    `<rect width="100%" height="100%" fill="#f4f5f5"/>`,
    `<text x="8" y="26" font-family="${FONT}" font-size="20" font-weight="bold" fill="#222">${escapeXml(d.title)}</text>`,
    `<text x="8" y="48" font-family="${FONT}" font-size="12" fill="#555">${escapeXml(
      `${iso(o.startUnixS)} to ${iso(o.endUnixS)} (UTC), step ${stepS} s, ${o.prometheusUrl}${varsText ? `, ${varsText}` : ""}`,
    )}  ${key}</text>`,
    ...parts,
    "</svg>",
  ].join("\n");
  const svgFile = join(o.outDir, `${d.uid}.svg`);
  writeFileSync(svgFile, svgText);
  let pngFile: string | null = null;
  if (o.png !== false) {
    pngFile = join(o.outDir, `${d.uid}.png`);
    writeFileSync(pngFile, svgToPng(svgText));
  }
  return {
    uid: d.uid,
    title: d.title,
    file,
    svg: svgFile,
    png: pngFile,
    panels,
    noData: noData(results),
    svgText,
  };
}

/** The default step: about 300 points over the range, never finer than the scrape interval. */
export function defaultStepS(rangeS: number, scrapeIntervalS: number): number {
  return Math.max(scrapeIntervalS, Math.ceil(rangeS / 300));
}

export async function takeSnapshot(o: SnapshotOptions): Promise<SnapshotResult> {
  if (!(o.endUnixS > o.startUnixS)) {
    throw new RangeError(`Expected the range to end after it starts, got ${iso(o.startUnixS)} to ${iso(o.endUnixS)}`);
  }
  const stepS = o.stepS ?? defaultStepS(o.endUnixS - o.startUnixS, o.scrapeIntervalS ?? 15);
  mkdirSync(o.outDir, { recursive: true });
  const dashboards: DashboardSnapshot[] = [];
  for (const f of o.dashboards) {
    const { svgText: _svg, ...snap } = await snapshotDashboard(f, o, stepS);
    dashboards.push(snap);
  }
  const index = join(o.outDir, "index.html");
  const sections = dashboards.map(
    (s) => `<section>
<h2>${escapeXml(s.title)} <small>(${escapeXml(basename(s.file))})</small></h2>
${s.noData.length === 0 ? "<p>Every query returned data.</p>" : `<p>No data:</p><ul>${s.noData.map((n) => `<li><code>${escapeXml(n)}</code></li>`).join("")}</ul>`}
<img src="${escapeXml(basename(s.svg))}" alt="${escapeXml(s.title)}" style="max-width:100%">
</section>`,
  );
  writeFileSync(
    index,
    `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dashboards ${escapeXml(iso(o.startUnixS))} to ${escapeXml(iso(o.endUnixS))}</title>
<style>body{font-family:${FONT};margin:1.5em;background:#fafafa}h2 small{font-weight:normal;color:#777}</style></head>
<body><h1>Dashboards</h1>
<p>${escapeXml(iso(o.startUnixS))} to ${escapeXml(iso(o.endUnixS))} (UTC), step ${stepS} s, from ${escapeXml(o.prometheusUrl)}; taken ${escapeXml(new Date().toISOString())} by <code>harness dashboard snapshot</code>.</p>
${sections.join("\n")}
</body></html>
`,
  );
  return { dashboards, index, stepS };
}
