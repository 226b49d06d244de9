/**
 * What every chart shares: the font, sizes, and one colour per policy that stays the same in
 * every chart of a report (the matrix's policy order picks it), so a reader learns it once.
 */
import type { Config } from "vega-lite";

/** Fonts the HTML viewer and resvg (PNG) both find; DejaVu Sans ships with Debian. */
export const FONT = "Helvetica, Arial, DejaVu Sans, sans-serif";

export const CONFIG: Config = {
  font: FONT,
  background: "white",
  padding: 8,
  title: { fontSize: 15, anchor: "start", subtitleFontSize: 12, subtitleColor: "#555", offset: 10 },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: "normal", gridColor: "#e8e8e8" },
  header: { labelFontSize: 12, titleFontSize: 12, labelFontWeight: "bold" },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: "normal" },
  view: { stroke: "#ddd" },
};

/** Tableau 10: distinct under the common colour-vision deficiencies' worst cases for 5 or fewer. */
const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#59a14f",
  "#e15759",
  "#b07aa1",
  "#76b7b2",
  "#edc948",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
];

/** The colour scale of the policy field: same domain and colours in every chart. */
export function policyScale(policies: readonly string[]): { domain: string[]; range: string[] } {
  return { domain: [...policies], range: policies.map((_, i) => PALETTE[i % PALETTE.length]!) };
}

/** Colours of the action types (timeline marks and the action-mix bars). */
export const ACTION_COLORS: Record<string, string> = {
  "restart-pod": "#4e79a7",
  "scale-up": "#59a14f",
  "scale-down": "#edc948",
  "drain-pod": "#b07aa1",
};

export const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
