/**
 * The report end to end on the hand-made fixture (test/fixture.ts): numbers worked out by
 * hand, and the whole `report.md` pinned by a golden file. A changed number fails the
 * golden test; rerun with UPDATE_GOLDEN=1 after checking the change is intended.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TraceStore } from "../harness/store.ts";
import { tempDir } from "../harness/store-fixtures.ts";
import { Estimator } from "./estimator.ts";
import { loadReportData, type ReportData } from "./load.ts";
import { buildModel, type ReportModel } from "./model.ts";
import { writeReport } from "./report.ts";
import { buildFixtureStore, FIXTURE_RUN } from "./test/fixture.ts";

const GOLDEN = join(import.meta.dirname, "test", "fixtures", "golden-report.md");
const dir = tempDir("report-test-");
const db = join(dir, "golden.duckdb");
let store: TraceStore;
let data: ReportData;
let model: ReportModel;

beforeAll(async () => {
  await buildFixtureStore(db);
  store = await TraceStore.open(db);
  data = await loadReportData(store);
  model = buildModel(data, new Estimator(data.episodes, { resamples: 2000, seed: 0 }), []);
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const row = (section: ReportModel["overall"], policy: string) => section.rows.find((r) => r.policy === policy)!;

describe("report numbers on the hand-made fixture", () => {
  it("loads the run, its axes in scenario order, and 24 completed episodes", () => {
    expect(data.run.runId).toBe(FIXTURE_RUN);
    expect(data.policies).toEqual(["none", "heuristic"]);
    expect(data.frequencies).toEqual(["often", "rare"]);
    expect(data.episodes).toHaveLength(24);
  });

  it("estimates uptime, MTTR, cost and unnecessary actions as worked out by hand", () => {
    const none = row(model.overall, "none");
    const heuristic = row(model.overall, "heuristic");
    expect(none.n).toBe(12);
    expect(none.metrics.uptime.estimate).toBeCloseTo(0.85, 12);
    expect(heuristic.metrics.uptime.estimate).toBeCloseTo(0.95, 12);
    // Incidents, from the first breached step: none 30, 40, 20 s; heuristic 10, 20 s and no
    // incident at all in the third pattern (not a zero averaged in).
    expect(none.metrics.mttr.estimate).toBeCloseTo(30, 12);
    expect(heuristic.metrics.mttr.estimate).toBeCloseTo(15, 12);
    expect(none.metrics.cost.estimate).toBe(300);
    expect(heuristic.metrics.cost.estimate).toBe(305);
    expect(heuristic.metrics.unnecessary.estimate).toBe(0.5);
    expect(heuristic.metrics.restarts.estimate).toBe(0.5);
    expect([none.incidents, none.censored, heuristic.incidents]).toEqual([6, 0, 4]);
  });

  it("splits the broken SLO by part: latency for none, errors for heuristic", () => {
    const often = model.byCell.find((s) => s.filter.frequency === "often")!;
    // none: 3 + 4 + 2 broken steps of 30 per three seeds = 0.3; heuristic: 1 + 2 + 0 = 0.1.
    expect(row(often, "none").metrics.latency_over.estimate).toBeCloseTo(0.3, 12);
    expect(row(often, "none").metrics.errors_over.estimate).toBe(0);
    expect(row(often, "heuristic").metrics.errors_over.estimate).toBeCloseTo(0.1, 12);
    expect(row(often, "heuristic").metrics.breached.estimate).toBeCloseTo(0.1, 12);
  });

  it("pairs by seed: uptime +0.2 in every often pair gives the exact p = 2/64 and a verdict", () => {
    const often = model.byCell.find((s) => s.filter.frequency === "often")!;
    const [c] = often.comparisons;
    expect([c!.a, c!.b, c!.n]).toEqual(["heuristic", "none", 6]);
    expect(c!.metrics.uptime.estimate).toBeCloseTo(0.2, 12);
    expect(c!.metrics.uptime.p).toBe(2 / 64);
    expect(c!.metrics.uptime.verdict).toBe("a");
    // MTTR: heuristic 15 s over its 4 closed incidents, none 30 s over 6: -15. Swapping the
    // two seeds where heuristic had no incident (with or without the others swapped back)
    // moves none's 20 s incident over and keeps |difference| >= 15: 8 of 64 patterns, so
    // the interval excludes 0 but p = 0.125 and there is no verdict.
    expect(c!.metrics.mttr.estimate).toBeCloseTo(-15, 9);
    expect(c!.metrics.mttr.p).toBe(8 / 64);
    expect(c!.metrics.mttr.upper).toBeLessThan(0);
    expect(c!.metrics.mttr.verdict).toBe(null);
    // Cost is identical in the often cell: no difference, p = 1.
    expect(c!.metrics.cost).toMatchObject({ estimate: 0, lower: 0, upper: 0, p: 1, verdict: null });
  });

  it("has no MTTR where nothing was recovered, instead of a zero", () => {
    const rare = model.byCell.find((s) => s.filter.frequency === "rare")!;
    expect(row(rare, "none").metrics.mttr).toMatchObject({ estimate: Number.NaN, lower: null, upper: null });
  });
});

describe("writeReport on the fixture", () => {
  it("writes index.html, report.md and every chart as spec, SVG and PNG, and checks the gates", async () => {
    const out = join(dir, "out");
    const outcome = await writeReport(store, { out, resamples: 2000, seed: 0 });
    const charts = ["mttr", "uptime-heatmap", "cost-vs-uptime", "actions", "timeline-pod-kill"];
    for (const c of charts) {
      for (const ext of [".vl.json", ".svg", ".png"])
        expect(existsSync(join(out, "charts", `${c}${ext}`)), c + ext).toBe(true);
    }
    expect(
      readFileSync(join(out, "charts", "mttr.png"))
        .subarray(1, 4)
        .toString(),
    ).toBe("PNG");
    expect(existsSync(join(out, "index.html"))).toBe(true);
    expect(outcome.gates.map((g) => [g.text, g.pass])).toEqual([
      ["heuristic.uptime >= none.uptime", true],
      ["paired(heuristic, none).mttr.upper < 0", true],
      ["heuristic.mttr[pod-kill, rare] <= 60", false],
      ["heuristic.cost <= none.cost", false],
    ]);
    expect(outcome.gates[2]!.outcomes[0]!.reason).toBe("no value for heuristic.mttr[pod-kill, rare] (n=6)");
    expect(outcome.passed).toBe(false);
  });

  it("renders report.md exactly as the golden file (a changed number fails here)", async () => {
    const out = join(dir, "golden");
    await writeReport(store, { out, png: false });
    const md = readFileSync(join(out, "report.md"), "utf8");
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(GOLDEN, md);
    expect(md).toBe(readFileSync(GOLDEN, "utf8"));
  });

  it("gives the same bytes twice (seeded bootstrap, no clock in the output)", async () => {
    await writeReport(store, { out: join(dir, "a"), png: false });
    await writeReport(store, { out: join(dir, "b"), png: false });
    for (const f of ["report.md", "index.html", "charts/mttr.svg"]) {
      expect(readFileSync(join(dir, "a", f), "utf8"), f).toBe(readFileSync(join(dir, "b", f), "utf8"));
    }
  });

  it("charts the training curves of another store (trainingStore)", async () => {
    const trainingDb = join(dir, "training.duckdb");
    const training = await TraceStore.open(trainingDb);
    try {
      await training.query(
        "CREATE TABLE training_updates (training_id VARCHAR, env_steps BIGINT, ep_reward_mean DOUBLE, entropy DOUBLE)",
      );
      await training.query("INSERT INTO training_updates VALUES ('t1', 2048, 10.5, 1.6), ('t1', 4096, 20.25, 1.5)");
    } finally {
      await training.close();
    }
    const out = join(dir, "with-training");
    const trainingStore = await TraceStore.open(trainingDb);
    try {
      await writeReport(store, { out, png: false, trainingStore });
    } finally {
      await trainingStore.close();
    }
    const spec = JSON.parse(readFileSync(join(out, "charts", "training.vl.json"), "utf8"));
    expect(JSON.stringify(spec)).toContain("episode reward (mean)");
    expect(JSON.stringify(spec)).toContain("20.25");
  });
});

describe("notes", () => {
  it("say when the store holds only some shards of the run, naming the missing ones", () => {
    const shard = (s: string | null) =>
      buildModel(
        { ...data, run: { ...data.run, shard: s } },
        new Estimator(data.episodes, { resamples: 10, seed: 0 }),
        [],
      ).notes;
    expect(shard("1/4,3/4").filter((n) => n.includes("missing 2/4, 4/4"))).toHaveLength(1);
    expect(shard(null).filter((n) => n.includes("shards"))).toEqual([]);
  });
});

describe("intervals do not depend on the run id", () => {
  it("the same episodes under another run id (another run of the scenario) give the same intervals", () => {
    const renamed = data.episodes.map((e) => ({ ...e, runId: "golden-run-2026-later" }));
    const a = new Estimator(data.episodes, { resamples: 500, seed: 0 });
    const b = new Estimator(renamed, { resamples: 500, seed: 0 });
    const metrics = ["uptime", "mttr", "cost"] as const;
    expect(b.single({ runId: "golden-run-2026-later", policy: "heuristic" }, {}, metrics)).toEqual(
      a.single({ runId: FIXTURE_RUN, policy: "heuristic" }, {}, metrics),
    );
    expect(
      b.paired(
        { runId: "golden-run-2026-later", policy: "heuristic" },
        { runId: "golden-run-2026-later", policy: "none" },
        {},
        metrics,
      ),
    ).toEqual(
      a.paired({ runId: FIXTURE_RUN, policy: "heuristic" }, { runId: FIXTURE_RUN, policy: "none" }, {}, metrics),
    );
  });
});
