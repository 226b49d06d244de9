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

/**
 * Policies: Tableau 10's blue, orange, green, red and purple, then the light tints of the same
 * five hues (Tableau 20) for a sixth to tenth policy. Distinct under the common colour-vision
 * deficiencies' worst cases for 5 or fewer. The hues left over (teal, olive, brown, pink)
 * belong to the actions, and greys to harm, so that no action or harm bar reads as a policy.
 */
const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#59a14f",
  "#e15759",
  "#b07aa1",
  "#a0cbe8",
  "#ffbe7d",
  "#8cd17d",
  "#ff9d9a",
  "#d4a6c8",
];

/** The colour of the i-th policy of the matrix. */
export function policyColor(policies: readonly string[], policy: string): string {
  const i = policies.indexOf(policy);
  return i < 0 ? "#888888" : PALETTE[i % PALETTE.length]!;
}

/** The colour scale of the policy field: same domain and colours in every chart. */
export function policyScale(policies: readonly string[]): { domain: string[]; range: string[] } {
  return { domain: [...policies], range: policies.map((p) => policyColor(policies, p)) };
}

/**
 * Colours of the action types (timeline marks and the action-mix bars): the Tableau 20 hues
 * no policy uses, dark enough for a white gap between stacked bars to show.
 */
export const ACTION_COLORS: Record<string, string> = {
  "restart-pod": "#499894",
  "scale-up": "#b6992d",
  "scale-down": "#9d7660",
  "drain-pod": "#d37295",
};

/** Harm kinds (unnecessary, refused, ...): greys, dark to light in the order given. */
export const HARM_GREYS: readonly string[] = ["#252525", "#525252", "#737373", "#969696", "#bdbdbd"];

export const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
