/**
 * The report's presentation on the hand-made fixture (test/fixture.ts): the verdict block,
 * the table of contents (every link lands on a heading, in Markdown as GitHub anchors it and
 * in HTML by id), and paired-difference cells tinted by the winner's colour.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TraceStore } from "../harness/store.ts";
import { tempDir } from "../harness/store-fixtures.ts";
import { policyColor } from "./charts/theme.ts";
import { type Block, buildDocument, WHY_ROWS, whyTable } from "./document.ts";
import { Estimator } from "./estimator.ts";
import { renderHtml } from "./html.ts";
import { loadReportData, type Timeline } from "./load.ts";
import { renderMarkdown } from "./markdown.ts";
import { buildModel, type ReportModel } from "./model.ts";
import { Slugger } from "./slug.ts";
import { buildFixtureStore } from "./test/fixture.ts";

const dir = tempDir("document-test-");
let model: ReportModel;
const CHARTS = ["mttr", "uptime-heatmap", "cost-vs-uptime", "actions"];

beforeAll(async () => {
  const db = join(dir, "golden.duckdb");
  await buildFixtureStore(db);
  const store = await TraceStore.open(db);
  try {
    const data = await loadReportData(store, { charts: false });
    model = buildModel(data, new Estimator(data.episodes, { resamples: 500, seed: 0 }), []);
  } finally {
    await store.close();
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const VERDICT = [
  "heuristic vs none: uptime +10.0 pp [+10.0, +10.0]; MTTR -23.3 s; costs 1.7% more.",
  "none is the baseline <no comparison>.",
];
const html = (m: ReportModel) => renderHtml(m.title, buildDocument(m, CHARTS), []);
const md = (m: ReportModel) => renderMarkdown(buildDocument(m, CHARTS), []);

describe("the verdict", () => {
  it("comes right after the title, one item per sentence, in Markdown and HTML", () => {
    const withVerdict = { ...model, verdict: VERDICT };
    const blocks = buildDocument(withVerdict, CHARTS);
    expect(blocks.slice(0, 2).map((b) => b.kind)).toEqual(["heading", "verdict"]);
    const text = md(withVerdict);
    expect(text).toContain(`> **Verdict**\n>\n> - ${VERDICT[0]}\n> - ${VERDICT[1]}\n>\n> Each policy against`);
    expect(text.indexOf("**Verdict**")).toBeLessThan(text.indexOf("| run "));
    const page = html(withVerdict);
    expect(page).toContain(
      `<section class="verdict" aria-label="Verdict"><h2>Verdict</h2><ul><li>${VERDICT[0]}</li><li>none is the baseline &lt;no comparison&gt;.</li></ul><p>Each policy against the best other one`,
    );
  });

  it("is left out when the model has none, or an empty one", () => {
    for (const m of [
      { ...model, verdict: undefined },
      { ...model, verdict: [] },
    ]) {
      expect(buildDocument(m, CHARTS).some((b) => b.kind === "verdict")).toBe(false);
      expect(md(m)).not.toContain("Verdict");
    }
  });
});

describe("the table of contents", () => {
  it("lists every section heading, before the run context", () => {
    const blocks = buildDocument(model, CHARTS);
    const toc = blocks.find((b): b is Extract<Block, { kind: "toc" }> => b.kind === "toc")!;
    const headings = blocks.filter((b) => b.kind === "heading" && b.level > 1 && b.id !== undefined);
    expect(toc.entries.map((e) => e.text)).toEqual(headings.map((h) => (h as { text: string }).text));
    expect(toc.entries.map((e) => e.id)).toEqual(
      expect.arrayContaining(["policies", "paired", "charts", "fault-pod-kill"]),
    );
    expect(blocks.indexOf(toc)).toBeLessThan(blocks.findIndex((b) => b.kind === "table"));
  });

  it("links, in Markdown, to the anchors GitHub gives the headings", () => {
    const text = md(model);
    const slugger = new Slugger();
    const anchors = [...text.matchAll(/^#{1,3} (.+)$/gm)].map((m) => slugger.slug(m[1]!));
    const links = [...text.matchAll(/^ *- \[[^\]]+\]\(#([^)]+)\)$/gm)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(5);
    for (const l of links) expect(anchors, l).toContain(l);
    expect(links).toContain("why-which-part-of-the-slo-broke");
  });

  it("links, in HTML, to element ids that exist", () => {
    const page = html(model);
    const nav = page.match(/<nav class="toc"[\s\S]*?<\/nav>/)![0];
    const links = [...nav.matchAll(/href="#([^"]+)"/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(5);
    for (const l of links) expect(page, l).toContain(`id="${l}"`);
  });
});

describe("paired-difference cells", () => {
  it("are tinted with the better policy's colour, either side, and left plain without a verdict", () => {
    const page = html(model);
    const heuristic = policyColor(model.policies, "heuristic");
    const none = policyColor(model.policies, "none");
    expect(heuristic).not.toBe(none);
    // Uptime and MTTR: heuristic better; cost and unnecessary actions: none better (fixture.ts).
    const winners = [
      ...page.matchAll(/<td class="r winner" style="--winner: (#[0-9a-f]{6})" title="(\w+) is better">/g),
    ];
    const byPolicy = new Map(winners.map((m) => [m[2], m[1]]));
    expect(byPolicy).toEqual(
      new Map([
        ["heuristic", heuristic],
        ["none", none],
      ]),
    );
    // The rare cell has identical uptime: a difference of 0 is no verdict, and no tint.
    const rare = page.slice(page.indexOf("<td>rare</td><td>heuristic − none</td>"));
    const row = rare.slice(0, rare.indexOf("</tr>"));
    expect(row).toContain(`<td class="r">0.0 pp [0.0, 0.0]`);
    // ... while its cost (+10 replica-s in every pair) names none, in none's colour.
    expect(row).toContain(`<td class="r winner" style="--winner: ${none}" title="none is better">`);
  });
});

describe("Slugger", () => {
  it("makes GitHub's anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered", () => {
    const s = new Slugger();
    expect(s.slug("Gates: 2 of 4 passed")).toBe("gates-2-of-4-passed");
    expect(s.slug("Why: which part of the SLO broke")).toBe("why-which-part-of-the-slo-broke");
    expect(s.slug("pod-kill / often")).toBe("pod-kill--often");
    expect(s.slug("Timeline")).toBe("timeline");
    expect(s.slug("Timeline")).toBe("timeline-1");
    expect(s.slug("timeline-1")).toBe("timeline-1-1");
    expect(s.slug("Timeline")).toBe("timeline-2");
  });
});

describe("why the policy acted (a controller run's stored attributions)", () => {
  const step = (time: number, applied: number, refused: number) => ({
    time,
    cpu: 0.5,
    latencyMs: 100,
    errorRate: 0,
    desired: 3,
    ready: 3,
    sloOk: true,
    applied,
    refused,
  });
  const why = (time: number, action: number) => ({
    time,
    action,
    output: 0.8,
    base: 0.25,
    top: [
      { feature: "latency", value: 0.9, phi: 0.4 },
      { feature: "healthy_ratio", value: 0.5, phi: -0.15 },
    ],
  });
  const timeline = (explanations: ReturnType<typeof why>[], steps: ReturnType<typeof step>[]): Timeline => ({
    episodeId: 1,
    fault: "controller",
    frequency: "live",
    policy: "rl",
    seed: 0,
    sloLatencyMs: 500,
    sloErrorRate: 0.01,
    endS: 100,
    steps,
    faults: [],
    baseline: null,
    explanations,
  });

  it("has one row per non-noop proposal with what became of it, shown in Markdown", () => {
    const t = timeline(
      [why(10, 0), why(20, 1), why(30, 2), why(40, 1), why(50, 4)],
      [step(10, 0, 0), step(20, 1, 0), step(30, 0, 2), step(40, 2, 0)],
    );
    const block = whyTable(t);
    expect(block.kind).toBe("details");
    if (block.kind !== "details") return;
    expect(block.summary).toBe("Why rl proposed its actions (controller): 4 of 5 explained decisions were not noop");
    const table = block.blocks.find((b) => b.kind === "table");
    expect(table?.kind === "table" && table.table.rows.map((r) => r.slice(0, 3).map((c) => c.text))).toEqual([
      ["20", "restart-pod", "applied"],
      ["30", "scale-up", "refused"],
      ["40", "restart-pod", "scale-up applied"],
      ["50", "drain-pod", "step not stored"],
    ]);
    const text = renderMarkdown([block], []);
    expect(text).toContain("latency = 0.9 (+0.4), healthy_ratio = 0.5 (−0.15)");
    expect(text).toContain("0.8 (0.25)");
  });

  it("shows at most WHY_ROWS rows and says how many it left out", () => {
    const many = Array.from({ length: WHY_ROWS + 7 }, (_, i) => why(i * 10, 1));
    const block = whyTable(timeline(many, []));
    expect(block.kind === "details" && block.blocks.at(-1)).toEqual({
      kind: "note",
      text: "7 more not shown: `harness explain` gives any step's attributions.",
    });
  });
});
