/**
 * vega-lite spec -> SVG (vega, headless, no DOM) -> PNG (resvg). Several SVGs inlined in
 * one HTML page share one id namespace, and vega names its clip paths `clip1`, `clip2`, ...
 * in every SVG: {@link scopeSvgIds} prefixes them so one chart never clips another.
 * Text is measured with the charts' font metrics (charts/text-width.ts), not vega's guess.
 */
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { vegaTextWidth } from "./charts/text-width.ts";

// Real font metrics instead of vega's 0.8 em per character (charts/text-width.ts): layout
// then leaves no white margin beside long titles, and labels are truncated where they must be.
// vega exports `textMetrics` (vega-scenegraph) for this purpose, but its types omit it.
(vega as unknown as { textMetrics: { width: typeof vegaTextWidth } }).textMetrics.width = vegaTextWidth;

export interface RenderedSvg {
  readonly svg: string;
  /** What vega-lite and vega warned about (a conflicting encoding, a dropped field): tests want none. */
  readonly warnings: readonly string[];
}

/** A vega/vega-lite logger that keeps warnings instead of printing them on the console. */
function collectingLogger(warnings: string[]) {
  let level = vega.Warn;
  const logger = {
    level(l?: number) {
      if (l === undefined) return level;
      level = l;
      return logger;
    },
    error(...args: readonly unknown[]) {
      warnings.push(`error: ${args.join(" ")}`);
      return logger;
    },
    warn(...args: readonly unknown[]) {
      warnings.push(args.join(" "));
      return logger;
    },
    info: () => logger,
    debug: () => logger,
  };
  return logger;
}

export async function renderSvg(spec: TopLevelSpec): Promise<RenderedSvg> {
  const warnings: string[] = [];
  const logger = collectingLogger(warnings);
  const compiled = compile(spec, { logger: logger as never }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logger: logger as never });
  try {
    return { svg: await view.toSVG(), warnings };
  } finally {
    view.finalize();
  }
}

/** PNG at twice the SVG's size (sharp on high-density screens), on white. */
export function svgToPng(svg: string): Buffer {
  const resvg = new Resvg(svg, {
    background: "white",
    fitTo: { mode: "zoom", value: 2 },
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans", sansSerifFamily: "DejaVu Sans" },
  });
  return resvg.render().asPng();
}

/**
 * Renames every `id` of the SVG to `<prefix>-<n>` in order of appearance, and every
 * `url(#...)` / `href="#..."` that points at one. Unique per chart, and deterministic: vega
 * numbers gradients and clips from a process-wide counter, which would make the same chart
 * differ byte for byte between two reports.
 */
export function scopeSvgIds(svg: string, prefix: string): string {
  const ids = new Map<string, string>();
  for (const m of svg.matchAll(/\bid="([^"]+)"/g)) if (!ids.has(m[1]!)) ids.set(m[1]!, `${prefix}-${ids.size + 1}`);
  const to = (id: string) => ids.get(id) ?? id;
  return svg
    .replace(/\bid="([^"]+)"/g, (_, id: string) => `id="${to(id)}"`)
    .replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${to(id)})`)
    .replace(/href="#([^"]+)"/g, (_, id: string) => `href="#${to(id)}"`);
}
