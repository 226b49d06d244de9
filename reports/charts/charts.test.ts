import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TraceStore } from "../../harness/store.ts";
import { tempDir } from "../../harness/store-fixtures.ts";
import { Estimator } from "../estimator.ts";
import { loadReportData } from "../load.ts";
import { buildModel, type ReportModel } from "../model.ts";
import { renderSvg, scopeSvgIds, svgToPng } from "../render.ts";
import { buildFixtureStore } from "../test/fixture.ts";
import { paretoFront } from "./cost.ts";
import { buildCharts } from "./index.ts";

const dir = tempDir("charts-test-");
let model: ReportModel;

beforeAll(async () => {
  const db = join(dir, "golden.duckdb");
  await buildFixtureStore(db);
  const store = await TraceStore.open(db);
  try {
    // Part of the PPO trainer's training_updates (harness/store-training.ts): the report
    // charts its known curves against global_step, one line per training run.
    await store.query(
      `CREATE TABLE training_updates AS SELECT 'ppo-1' AS run_id, i::INTEGER AS update, i * 2048 AS global_step,
         i * 10.0 AS steps_per_s, i * 1.5 AS ep_reward_mean, 1.0 / (i + 1) AS approx_kl FROM range(1, 11) t(i)`,
    );
    const data = await loadReportData(store);
    model = buildModel(data, new Estimator(data.episodes, { resamples: 200 }), []);
  } finally {
    await store.close();
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("charts", () => {
  it("builds every chart the issue names, training curves included when the file has them", () => {
    expect(buildCharts(model).map((c) => c.name)).toEqual([
      "mttr",
      "uptime-heatmap",
      "cost-vs-uptime",
      "actions",
      "timeline-pod-kill",
      "training",
    ]);
    expect(model.training).toMatchObject({
      x: "global_step",
      series: "run_id",
      metrics: ["ep_reward_mean", "approx_kl"],
    });
  });

  it("renders each to SVG and PNG without a vega-lite warning", async () => {
    for (const chart of buildCharts(model)) {
      const { svg, warnings } = await renderSvg(chart.spec);
      expect(warnings, chart.name).toEqual([]);
      expect(svg, chart.name).toMatch(/^<svg /);
      expect(svgToPng(svg).subarray(1, 4).toString(), chart.name).toBe("PNG");
    }
  });

  it("shows n beside the figures: in axis labels or subtitles", async () => {
    const charts = new Map(buildCharts(model).map((c) => [c.name, c]));
    for (const name of ["mttr", "cost-vs-uptime", "actions"]) {
      expect((await renderSvg(charts.get(name)!.spec)).svg, name).toContain("none (n=12)");
    }
    expect((await renderSvg(charts.get("uptime-heatmap")!.spec)).svg).toContain("n = 6 episodes per cell");
  });

  it("marks the fault spans, actions and SLO ceilings on the timeline", async () => {
    const t = model.timelines[0]!;
    expect(t).toMatchObject({ fault: "pod-kill", policy: "heuristic", frequency: "often", seed: 1 });
    expect(t.faults).toEqual([{ faultId: 0, from: 20, to: 40, detail: "pod-kill pod 1" }]);
    const { svg } = await renderSvg(buildCharts(model).find((c) => c.name === "timeline-pod-kill")!.spec);
    expect(svg).toContain("SLO 300 ms");
    expect(svg).toContain("restart-pod");
  });
});

describe("paretoFront", () => {
  it("keeps the points no other point beats on both cost and uptime, cheapest first", () => {
    const p = (policy: string, cost: number, uptime: number) => ({ policy, cost, uptime });
    const front = paretoFront([p("a", 10, 0.9), p("b", 5, 0.8), p("c", 12, 0.85), p("d", 5, 0.7), p("e", 20, 0.99)]);
    expect(front.map((x) => x.policy)).toEqual(["b", "a", "e"]);
    expect(paretoFront([p("x", 1, Number.NaN), p("y", 2, 0.5)]).map((x) => x.policy)).toEqual(["y"]);
  });
});

describe("scopeSvgIds", () => {
  it("renames ids in order and every reference to them", () => {
    const svg = '<g id="clip7"/><path clip-path="url(#clip7)"/><use href="#gradient_3"/><g id="gradient_3"/>';
    expect(scopeSvgIds(svg, "c")).toBe('<g id="c-1"/><path clip-path="url(#c-1)"/><use href="#c-2"/><g id="c-2"/>');
  });
});
