/**
 * The HTML report (`index.html`): the document's blocks (document.ts) with every chart's SVG
 * inlined, one self-contained file with no script and no network access, laid out for a
 * laptop screen (tables scroll sideways inside their box rather than widening the page).
 */
import type { Block, Cell, Table, TocEntry } from "./document.ts";

export interface RenderedChart {
  readonly name: string;
  readonly title: string;
  readonly caption: string;
  /** The SVG with ids already scoped to this chart (render.ts `scopeSvgIds`). */
  readonly svg: string;
}

export function escapeHtml(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

const CSS = `
:root { color-scheme: light; }
body { font: 15px/1.45 Helvetica, Arial, "DejaVu Sans", sans-serif; color: #222; margin: 0; background: #fafafa; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 64px; background: white; }
h1 { font-size: 26px; margin: 0 0 16px; }
h2 { font-size: 20px; margin: 36px 0 10px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 22px 0 8px; }
p { max-width: 80ch; }
.note { border-left: 4px solid #f28e2b; background: #fff6ec; padding: 8px 12px; max-width: 80ch; }
.scroll { overflow-x: auto; margin: 8px 0 14px; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e5e5e5; vertical-align: top; }
th { text-align: left; background: #f3f3f3; font-weight: 600; }
td.r, th.r { text-align: right; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fbfbfb; }
table.context td:first-child { color: #666; white-space: nowrap; }
td.win { background: #e7f4e4; }
td.winner { border-left: 4px solid var(--winner); background: #f0f0f0; background: color-mix(in srgb, var(--winner) 16%, white); }
.verdict { border: 2px solid #333; border-radius: 6px; padding: 10px 16px; margin: 0 0 18px; background: #f7f7f2; max-width: 90ch; }
.verdict h2 { border: 0; margin: 0 0 6px; padding: 0; font-size: 18px; }
.verdict ul { margin: 0; padding-left: 20px; font-size: 16px; }
.verdict li { margin: 3px 0; }
.verdict p { margin: 8px 0 0; color: #555; font-size: 13px; }
nav.toc { margin: 0 0 18px; font-size: 14px; }
nav.toc ol { margin: 4px 0; padding-left: 22px; }
nav.toc ol ol { columns: 3; max-width: 70ch; list-style: none; padding-left: 4px; }
td strong, td small { display: block; }
td small { color: #666; font-size: 11.5px; }
td.pass { color: #2e7d32; font-weight: 600; white-space: nowrap; }
td.fail { color: #c62828; font-weight: 600; white-space: nowrap; }
code { font-size: 12.5px; background: #f4f4f4; padding: 1px 4px; border-radius: 3px; }
figure { margin: 20px 0 28px; }
figcaption { margin-bottom: 8px; }
figcaption h3 { margin: 0 0 2px; }
figcaption p { margin: 0; color: #555; }
figure .chart { overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
details { margin: 10px 0; }
summary { cursor: pointer; font-weight: 600; }
`;

function cell(c: Cell, align: string, header = false): string {
  const classes = [align === "r" ? "r" : "", c.tone ?? "", c.winner === undefined ? "" : "winner"]
    .filter((x) => x !== "")
    .join(" ");
  // The winner's colour as a custom property: one CSS rule tints and borders every such cell.
  const style = c.winner === undefined ? "" : ` style="--winner: ${escapeHtml(c.winner.color)}"`;
  const title = c.winner === undefined ? "" : ` title="${escapeHtml(c.winner.policy)} is better"`;
  const attr = `${classes === "" ? "" : ` class="${classes}"`}${style}${title}`;
  const text = c.code ? `<code>${escapeHtml(c.text)}</code>` : escapeHtml(c.text);
  const detail = c.detail === undefined ? "" : `<small>${escapeHtml(c.detail)}</small>`;
  const body = `${c.strong === undefined ? "" : `<strong>${escapeHtml(c.strong)}</strong>`}${text}${detail}`;
  return header ? `<th${attr}>${body}</th>` : `<td${attr}>${body}</td>`;
}

function table(t: Table, className?: string): string {
  const head = t.header.map((h, i) => cell({ text: h }, t.align[i] ?? "l", true)).join("");
  const rows = t.rows.map((r) => `<tr>${r.map((c, i) => cell(c, t.align[i] ?? "l")).join("")}</tr>`).join("\n");
  const cls = className === undefined ? "" : ` class="${className}"`;
  // A key-value table (the run context) has no header worth a row.
  const thead = t.header.every((h) => h === "") ? "" : `<thead><tr>${head}</tr></thead>`;
  return `<div class="scroll"><table${cls}>${thead}<tbody>\n${rows}\n</tbody></table></div>`;
}

function figure(c: RenderedChart): string {
  return `<figure id="chart-${escapeHtml(c.name)}" data-chart="${escapeHtml(c.name)}">
<figcaption><h3>${escapeHtml(c.title)}</h3><p>${escapeHtml(c.caption)}</p></figcaption>
<div class="chart">${c.svg}</div>
</figure>`;
}

function toc(entries: readonly TocEntry[]): string {
  // Level-3 entries nest under the level-2 entry before them.
  const items: string[] = [];
  let sub: string[] = [];
  const flush = () => {
    if (sub.length > 0 && items.length > 0) items[items.length - 1] += `<ol>${sub.join("")}</ol>`;
    sub = [];
  };
  for (const e of entries) {
    const link = `<a href="#${escapeHtml(e.id)}">${escapeHtml(e.text)}</a>`;
    if (e.level === 3) sub.push(`<li>${link}</li>`);
    else {
      flush();
      items.push(`<li>${link}`);
    }
  }
  flush();
  return `<nav class="toc" aria-label="Contents"><strong>Contents</strong><ol>${items.map((i) => `${i}</li>`).join("")}</ol></nav>`;
}

function block(b: Block, charts: ReadonlyMap<string, RenderedChart>): string {
  switch (b.kind) {
    case "verdict":
      return `<section class="verdict" aria-label="Verdict"><h2>Verdict</h2><ul>${b.sentences.map((t) => `<li>${escapeHtml(t)}</li>`).join("")}</ul><p>${escapeHtml(b.how)}</p></section>`;
    case "toc":
      return toc(b.entries);
    case "heading":
      return `<h${b.level}${b.id === undefined ? "" : ` id="${b.id}"`}>${escapeHtml(b.text)}</h${b.level}>`;
    case "paragraph":
      return `<p>${escapeHtml(b.text)}</p>`;
    case "note":
      return `<p class="note"><strong>Note:</strong> ${escapeHtml(b.text)}</p>`;
    case "table":
      return table(b.table, b.className);
    case "details":
      return `<details><summary>${escapeHtml(b.summary)}</summary>\n${b.blocks.map((x) => block(x, charts)).join("\n")}\n</details>`;
    case "charts":
      return b.names.flatMap((n) => (charts.has(n) ? [figure(charts.get(n)!)] : [])).join("\n");
  }
}

export function renderHtml(title: string, blocks: readonly Block[], charts: readonly RenderedChart[]): string {
  const byName = new Map(charts.map((c) => [c.name, c]));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${blocks.map((b) => block(b, byName)).join("\n")}
</main>
</body>
</html>
`;
}
