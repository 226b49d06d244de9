import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TraceStore } from "../../harness/store.ts";
import { tempDir } from "../../harness/store-fixtures.ts";
import { Estimator } from "../estimator.ts";
import { faultSpans, loadReportData } from "../load.ts";
import { buildModel, type ReportModel } from "../model.ts";
import { renderSvg, scopeSvgIds, svgToPng } from "../render.ts";
import { buildFixtureStore } from "../test/fixture.ts";
import { costSpec, paretoFront, zoomed } from "./cost.ts";
import { buildCharts } from "./index.ts";
import { type Anchor, type Box, type Placed, placeLabels } from "./labels.ts";
import { logTicks } from "./scales.ts";
import { textWidth } from "./text-width.ts";
import { ACTION_COLORS, CONFIG, HARM_GREYS, policyScale, SCHEMA } from "./theme.ts";
import { timelineSpec } from "./timeline.ts";
import { curveName, smooth, smoothingWeight, trainingSpec } from "./training.ts";

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
    // The fixture predates fault-ended events: the span runs to the clearing.
    expect(t.faults).toEqual([{ faultId: 0, from: 20, to: 40, end: "cleared", detail: "pod-kill pod 1" }]);
    const { svg } = await renderSvg(buildCharts(model).find((c) => c.name === "timeline-pod-kill")!.spec);
    expect(svg).toContain("SLO 300 ms");
    expect(svg).toContain("restart-pod");
    // The injection itself is marked too (a triangle in the "fault injected" row).
    expect(svg).toContain("fault injected");
    expect(svg.match(/aria-label="time \(s\): 20; row: fault injected"/g) ?? []).toHaveLength(1);
  });

  it("overlays the paired none episode: same cell and seed, its own steps", async () => {
    const t = model.timelines[0]!;
    expect(t.baseline).not.toBeNull();
    const base = t.baseline!;
    expect(base.policy).toBe("none");
    expect(base.episodeId).not.toBe(t.episodeId);
    // fixture.ts: none breaks the SLO on latency at steps 3-5 of seed 1, heuristic only at step 3.
    expect(base.steps.filter((s) => !s.sloOk).map((s) => s.time)).toEqual([30, 40, 50]);
    expect(base.steps.filter((s) => s.latencyMs === 420)).toHaveLength(3);
    expect(t.steps.filter((s) => !s.sloOk).map((s) => s.time)).toEqual([30]);
    const { svg } = await renderSvg(timelineSpec(t, model.policies));
    expect(svg).toContain("SLO broken: none");
    expect(svg).toContain("none (paired: same seed and faults)");
    expect(svg).toContain("#9a9a9a");
  });

  it("has no overlay for a none episode, and draws latency and errors on log axes with the SLO inside", () => {
    const t = model.timelines[0]!;
    const spec = timelineSpec({ ...t, policy: "none", baseline: null }, model.policies) as unknown as {
      vconcat: {
        layer: { mark: { type: string }; encoding?: { y?: { scale?: { type: string; domain: number[] } } } }[];
      }[];
    };
    const text = JSON.stringify(spec);
    expect(text).not.toContain("same seed and faults");
    expect(text).toContain("No paired baseline episode");
    const scales = spec.vconcat.flatMap((p) =>
      p.layer.flatMap((l) => (l.encoding?.y?.scale ? [l.encoding.y.scale] : [])),
    );
    const logs = scales.filter((s) => s.type === "log");
    expect(logs).toHaveLength(2);
    const [latency, errors] = logs;
    expect(latency!.domain[0]).toBeLessThan(t.sloLatencyMs);
    expect(latency!.domain[1]).toBeGreaterThan(t.sloLatencyMs);
    expect(errors!.domain[0]).toBeLessThan(t.sloErrorRate);
    expect(errors!.domain[1]).toBeGreaterThan(t.sloErrorRate);
  });

  it("prints MTTR on a log-like axis with the value and the open count as text, never as a bar", async () => {
    const spec = buildCharts(model).find((c) => c.name === "mttr")!.spec as unknown as {
      spec: { layer: { mark: { type: string }; encoding: { x: { scale?: { type: string } } } }[] };
    };
    expect(spec.spec.layer.map((l) => l.mark.type)).toEqual(["rule", "point", "text", "text"]);
    expect(spec.spec.layer[1]!.encoding.x.scale?.type).toBe("symlog");
    const { svg } = await renderSvg(spec as never);
    // Over pod-kill: none 30 s over 6 incidents, heuristic 15 s over 4; none censored (fixture.ts).
    for (const s of ["30.0 s", "15.0 s", "0/6 censored", "0/4 censored", "MTTR (s, log scale)"]) {
      expect(svg).toContain(s);
    }
  });

  it("prints uptime with one decimal on a fixed 0-100% colour scale", async () => {
    const chart = buildCharts(model).find((c) => c.name === "uptime-heatmap")!;
    expect(JSON.stringify(chart.spec)).toContain('"domain":[0,1]');
    const { svg } = await renderSvg(chart.spec);
    // none, often: mean of 0.7, 0.6, 0.8 per seed pattern; heuristic 0.9; both 100% when rare.
    for (const s of [">70.0%<", ">90.0%<", ">100.0%<"]) expect(svg).toContain(s);
  });
});

describe("faultSpans", () => {
  const ev = (time_s: number, kind: string, fault_id: number) => ({ time_s, kind, fault_id, detail: `f${fault_id}` });

  it("runs a live span from injection to fault-ended, or to the episode's end without one", () => {
    const spans = faultSpans(
      [ev(10, "fault-injected", 0), ev(20, "fault-cleared", 0), ev(15, "fault-injected", 1), ev(60, "fault-ended", 0)],
      100,
    );
    expect(spans).toEqual([
      { faultId: 0, from: 10, to: 60, end: "ended", detail: "f0" },
      { faultId: 1, from: 15, to: 100, end: "open", detail: "f1" },
    ]);
  });

  it("falls back to the clearing in a trace written before fault-ended existed", () => {
    expect(
      faultSpans([ev(10, "fault-injected", 0), ev(20, "fault-cleared", 0), ev(30, "fault-injected", 1)], 50),
    ).toEqual([
      { faultId: 0, from: 10, to: 20, end: "cleared", detail: "f0" },
      { faultId: 1, from: 30, to: 50, end: "open", detail: "f1" },
    ]);
  });
});

describe("logTicks", () => {
  it("gives 1-2-5 ticks, 0 first when the domain starts there, thinned when they would crowd", () => {
    expect(logTicks(5, 120)).toEqual([5, 10, 20, 50, 100]);
    expect(logTicks(0, 60)).toEqual([0, 1, 2, 5, 10, 20, 50]);
    expect(logTicks(0, 1000)).toEqual([0, 1, 3, 10, 30, 100, 300, 1000]);
    expect(logTicks(0.001, 1, 0, 4)).toEqual([0.001, 0.01, 0.1, 1]);
  });
});

describe("colours", () => {
  it("gives every action its own colour, none of them a policy's", () => {
    const actions = Object.values(ACTION_COLORS);
    expect(new Set(actions).size).toBe(actions.length);
    const policies = policyScale(Array.from({ length: 10 }, (_, i) => `p${i}`)).range;
    expect(new Set(policies).size).toBe(10);
    for (const c of [...actions, ...HARM_GREYS]) expect(policies).not.toContain(c);
  });
});

describe("text widths", () => {
  it("measures with the font's widths, so a chart is as wide as its longest title", async () => {
    expect(textWidth("iiii", 10)).toBeLessThan(textWidth("MMMM", 10) / 2);
    expect(textWidth("0123456789", 10)).toBeCloseTo(63.6, 6);
    const title = "A title much longer than the chart it sits on, to set the width";
    const { svg } = await renderSvg({
      $schema: SCHEMA,
      config: CONFIG,
      title: { text: title },
      width: 50,
      height: 50,
      data: { values: [{ x: 1 }] },
      mark: "point",
      encoding: { x: { field: "x", type: "quantitative" } },
    } as never);
    const width = Number(svg.match(/width="(\d+)"/)![1]);
    const want = textWidth(title, 15, true);
    // vega's own guess (0.8 em a character) would make it about a third wider.
    expect(width).toBeGreaterThan(want);
    expect(width).toBeLessThan(want + 40);
  });
});

describe("placeLabels", () => {
  const overlap = (a: Box, b: Box) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const box = (p: Placed, a: Anchor): Box => ({
    left: p.x,
    right: p.x + a.width,
    top: p.y - a.height / 2,
    bottom: p.y + a.height / 2,
  });

  it("keeps crowded labels off each other, off every point and obstacle, and inside the plot", () => {
    // Five points within 12 px of each other, one obstacle bar through them.
    const anchors: Anchor[] = [0, 1, 2, 3, 4].map((i) => ({
      x: 200 + i * 6,
      y: 100 + (i % 2) * 6,
      r: 6,
      width: 90,
      height: 14,
    }));
    const bar: Box = { left: 150, right: 260, top: 99, bottom: 101 };
    const placed = placeLabels(anchors, { width: 400, height: 300 }, [bar]);
    expect(placed.every((p) => p !== null)).toBe(true);
    const boxes = placed.map((p, i) => box(p!, anchors[i]!));
    for (const [i, b] of boxes.entries()) {
      expect(b.left >= 0 && b.top >= 0 && b.right <= 400 && b.bottom <= 300, `label ${i} inside`).toBe(true);
      expect(overlap(b, bar), `label ${i} off the bar`).toBe(false);
      for (const [j, c] of boxes.entries()) if (i !== j) expect(overlap(b, c), `labels ${i} and ${j}`).toBe(false);
      for (const a of anchors) {
        expect(overlap(b, { left: a.x - a.r, right: a.x + a.r, top: a.y - a.r, bottom: a.y + a.r })).toBe(false);
      }
    }
    expect(placed.some((p) => p!.leader)).toBe(true);
  });

  it("puts a lone label right of its point, vertically centred on it", () => {
    const a: Anchor = { x: 100, y: 100, r: 6, width: 90, height: 14 };
    expect(placeLabels([a], { width: 400, height: 300 })).toEqual([{ x: 110, y: 100, leader: false }]);
  });

  it("gives up (null) where no candidate fits, rather than overlap", () => {
    const a: Anchor = { x: 10, y: 10, r: 5, width: 200, height: 14 };
    expect(placeLabels([a], { width: 30, height: 30 })).toEqual([null]);
  });
});

describe("cost against uptime", () => {
  const row = (policy: string, cost: number, uptime: number, half = 0.005) => ({
    policy,
    n: 10,
    incidents: 0,
    censored: 0,
    metrics: {
      cost: { estimate: cost, lower: cost - 50, upper: cost + 50, n: 10 },
      uptime: { estimate: uptime, lower: uptime - half, upper: uptime + half, n: 10 },
    },
  });
  // The full matrix's shape: three good policies 0.2-4 pp apart, two far below.
  const crowded = {
    ...({} as ReportModel),
    policies: ["none", "random", "heuristic", "hpa", "rl"],
    overall: {
      filter: {},
      comparisons: [],
      rows: [
        row("none", 6000, 0.815),
        row("random", 6900, 0.473, 0.03),
        row("heuristic", 9490, 0.987),
        row("hpa", 10935, 0.944),
        row("rl", 10663, 0.986),
      ],
    },
  } as unknown as ReportModel;

  it("zooms onto the policies within 10 pp of the best uptime, and labels each once, without overlap", async () => {
    const spec = costSpec(crowded) as unknown as {
      hconcat: {
        title: { text: string };
        layer: { mark: { type: string }; data: { values: Record<string, unknown>[] } }[];
      }[];
    };
    expect(spec.hconcat).toHaveLength(2);
    expect(spec.hconcat[1]!.title.text).toBe("zoom: heuristic, hpa, rl");
    const labelsOf = (i: number) => spec.hconcat[i]!.layer.find((l) => l.mark.type === "text")!.data.values;
    expect(labelsOf(0).map((l) => l.policy)).toEqual(["none", "random"]);
    expect(
      labelsOf(1)
        .map((l) => l.policy)
        .sort(),
    ).toEqual(["heuristic", "hpa", "rl"]);
    // The zoom's uptime axis spans a few points, not the 50 of the overview: 0.1 pp is visible.
    const { svg, warnings } = await renderSvg(spec as never);
    expect(warnings).toEqual([]);
    for (const name of ["heuristic (n=10)", "rl (n=10)", "hpa (n=10)", "none (n=10)", "random (n=10)"]) {
      // Once as text (the aria-label of the same mark also names it).
      expect(svg.split(`>${name}</text>`).length - 1, name).toBe(1);
    }
  });

  it("keeps one panel when the policies are spread out", () => {
    const spread = {
      ...crowded,
      overall: {
        ...crowded.overall,
        rows: [row("none", 6000, 0.6), row("heuristic", 9000, 0.8), row("rl", 12000, 0.99)],
      },
    } as unknown as ReportModel;
    const spec = costSpec(spread) as unknown as {
      hconcat?: unknown;
      layer: { mark: { type: string }; data: { values: unknown[] } }[];
    };
    expect(spec.hconcat).toBeUndefined();
    expect(spec.layer.find((l) => l.mark.type === "text")!.data.values).toHaveLength(3);
  });

  it("finds the zoom's policies and its extent", () => {
    const p = (policy: string, uptime: number) => ({ policy, cost: 1, uptime });
    expect(zoomed([p("a", 0.99), p("b", 0.95), p("c", 0.5)])?.map((x) => x.policy)).toEqual(["a", "b"]);
    // Everyone near the best, or one alone: no zoom.
    expect(zoomed([p("a", 0.99), p("b", 0.95), p("c", 0.92)])).toBeNull();
    expect(zoomed([p("a", 0.99), p("b", 0.5), p("c", 0.4)])).toBeNull();
  });
});

describe("training curves", () => {
  it("names the trainer's columns for a reader, and any other column readably", () => {
    expect(curveName("ep_reward_mean")).toBe("episode reward (mean)");
    expect(curveName("approx_kl")).toBe("approx. KL divergence");
    expect(curveName("grad_norm_max")).toBe("grad norm max");
    expect(curveName("wait_time_s")).toBe("wait time (s)");
  });

  it("smooths with a debiased moving average that starts at the first value and skips gaps", () => {
    expect(smooth([10, 10, 10], 0.9)).toEqual([10, 10, 10].map((v) => expect.closeTo(v, 9)));
    const s = smooth([0, null, 10], 0.5);
    expect(s[0]).toBe(0);
    expect(s[1]).toBeNull();
    // (0.5 * 0 + 0.5 * 10) debiased by 1 - 0.5^2: 5 / 0.75.
    expect(s[2]).toBeCloseTo(20 / 3, 12);
    expect(smoothingWeight(10)).toBe(0);
    expect(smoothingWeight(60)).toBeCloseTo(0.75, 12);
    expect(smoothingWeight(100000)).toBe(0.98);
  });

  it("shows training runs by name and draws the smoothed line over the raw one", async () => {
    const rows = Array.from({ length: 60 }, (_, i) => ({
      run_id: "ppo-s1-20261202T105023",
      global_step: i * 1000,
      entropy: 1.6 - i / 100,
    }));
    const spec = trainingSpec({
      x: "global_step",
      series: "run_id",
      metrics: ["entropy"],
      rows: [...rows, ...rows.map((r) => ({ ...r, run_id: "ppo-s2-20261202T105052" }))],
      seriesNames: {
        "ppo-s1-20261202T105023": "PPO seed 1, 60,000 steps",
        "ppo-s2-20261202T105052": "PPO seed 2, 60,000 steps",
      },
    });
    const { svg, warnings } = await renderSvg(spec);
    expect(warnings).toEqual([]);
    for (const s of [
      "PPO seed 1, 60,000 steps",
      "PPO seed 2, 60,000 steps",
      "policy entropy",
      "environment steps",
      "weight 0.75",
    ]) {
      expect(svg).toContain(s);
    }
    expect(svg).not.toContain("ppo-s1-");
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
