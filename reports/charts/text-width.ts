/**
 * Text widths as the charts' font draws them, for vega's layout. Without a canvas, vega
 * guesses 0.8 em per character, about a third wider than real text: titles and labels then
 * reserve space they do not use (charts padded with white on the right), and a label placed
 * by width (cost.ts) would be placed wrong. These are DejaVu Sans's advance widths (the font
 * resvg draws the PNGs with, read from its hmtx table), which are a little wider than
 * Helvetica or Arial in a browser, so a fit measured here fits there too.
 */

/** Advance widths of ASCII 32..126 in thousandths of an em: DejaVu Sans. */
const REGULAR: readonly number[] = [
  318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636, 636, 636, 636,
  636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656, 557, 863,
  748, 787, 603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500, 500, 613, 635, 550, 635,
  615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612, 635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636,
  337, 636, 838,
];

/** The same for DejaVu Sans Bold. */
const BOLD: readonly number[] = [
  348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696, 696, 696, 696, 696, 696, 696,
  696, 696, 696, 400, 400, 838, 838, 838, 580, 1000, 774, 762, 734, 830, 683, 683, 821, 837, 372, 372, 775, 637, 995,
  837, 850, 733, 850, 770, 720, 682, 812, 774, 1103, 771, 724, 725, 457, 365, 457, 838, 500, 500, 675, 716, 593, 716,
  678, 435, 716, 712, 343, 343, 665, 343, 1042, 712, 687, 716, 716, 493, 595, 478, 712, 652, 924, 645, 652, 582, 712,
  365, 712, 838,
];

/** Any character outside ASCII (×, −, …): about an uppercase letter. */
const OTHER = 700;

/** The width in pixels of `text` at `fontSize` px. */
export function textWidth(text: string, fontSize: number, bold = false): number {
  const table = bold ? BOLD : REGULAR;
  let em = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    em += c >= 32 && c <= 126 ? table[c - 32]! : OTHER;
  }
  return (em / 1000) * fontSize;
}

/** What vega calls for a text item's width (`vega.textMetrics.width`), when installed. */
export function vegaTextWidth(item: { fontSize?: number; fontWeight?: string | number }, text: unknown): number {
  const size = item.fontSize == null ? 11 : Number(item.fontSize) || 0;
  const w = item.fontWeight;
  const bold = w === "bold" || (typeof w === "number" && w >= 600) || w === "600" || w === "700";
  return textWidth(text == null ? "" : String(text).trim(), size, bold);
}
