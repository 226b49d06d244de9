/**
 * The Markdown report (`report.md`): the document's blocks (document.ts) as GitHub-flavoured
 * Markdown, fit for a CI job summary (`<details>` folds the long tables). Deterministic: the
 * same trace and options give the same bytes, which is what the golden tests pin.
 */
import type { Block, Cell, Table } from "./document.ts";
import { Slugger } from "./slug.ts";

export interface ChartFile {
  readonly name: string;
  readonly title: string;
}

const esc = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");

function cell(c: Cell): string {
  const text = c.code ? `\`${c.text}\`` : esc(c.text);
  const body = c.detail === undefined ? text : `${text} ${esc(c.detail)}`;
  return c.strong === undefined ? body : `**${esc(c.strong)}** ${body}`;
}

/** A table with its columns padded to one width, so that the raw text reads as a table too (CI logs). */
export function markdownTable(t: Table): string {
  const header = t.header.map(esc);
  const rows = t.rows.map((r) => r.map(cell));
  const len = (s: string) => [...s].length;
  const widths = header.map((h, i) => Math.max(3, len(h), ...rows.map((r) => len(r[i] ?? ""))));
  const right = (i: number) => t.align[i] === "r";
  const pad = (s: string, i: number) => {
    const fill = " ".repeat(widths[i]! - len(s));
    return right(i) ? fill + s : s + fill;
  };
  const sep = widths.map((w, i) => (right(i) ? `${"-".repeat(w - 1)}:` : "-".repeat(w)));
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header.map(pad)), line(sep), ...rows.map((r) => line(r.map(pad)))].join("\n");
}

/** Heading id -> the anchor GitHub gives that heading (its slug, numbered when repeated). */
function anchors(blocks: readonly Block[]): Map<string, string> {
  const slugger = new Slugger();
  const out = new Map<string, string>();
  const visit = (bs: readonly Block[]) => {
    for (const b of bs) {
      if (b.kind === "heading") {
        const slug = slugger.slug(b.text);
        if (b.id !== undefined) out.set(b.id, slug);
      } else if (b.kind === "details") visit(b.blocks);
    }
  };
  visit(blocks);
  return out;
}

function block(b: Block, charts: ReadonlyMap<string, ChartFile>, anchor: ReadonlyMap<string, string>): string {
  switch (b.kind) {
    case "heading":
      return `${"#".repeat(b.level)} ${b.text}`;
    case "verdict":
      return [
        "> **Verdict**",
        ">",
        ...b.sentences.map((t) => `> - ${t.replaceAll("\n", " ")}`),
        ">",
        `> ${b.how}`,
      ].join("\n");
    case "toc":
      return [
        "**Contents**",
        "",
        ...b.entries.map((e) => `${"  ".repeat(e.level - 2)}- [${e.text}](#${anchor.get(e.id) ?? e.id})`),
      ].join("\n");
    case "paragraph":
      return b.text;
    case "note":
      return `> **Note:** ${b.text}`;
    case "table":
      return markdownTable(b.table);
    case "details":
      return [
        `<details><summary>${b.summary}</summary>`,
        "",
        ...b.blocks.map((x) => block(x, charts, anchor)),
        "",
        "</details>",
      ].join("\n");
    case "charts":
      return b.names
        .map((n) => `- ${charts.get(n)?.title ?? n}: \`charts/${n}.svg\` (also \`.png\`; vega-lite spec \`.vl.json\`)`)
        .join("\n");
  }
}

export function renderMarkdown(blocks: readonly Block[], charts: readonly ChartFile[]): string {
  const byName = new Map(charts.map((c) => [c.name, c]));
  const anchor = anchors(blocks);
  return `${blocks.map((b) => block(b, byName, anchor)).join("\n\n")}\n`;
}
