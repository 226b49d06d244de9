import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TraceStore } from "../harness/store.ts";
import { tempDir } from "../harness/store-fixtures.ts";
import { gridPoints, ranking, TUNING, type TuneResult, type TuningSetup, tune } from "./tune-baselines.ts";

const root = tempDir("tune-test-");
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Two heuristic candidates in stage 1, one in stage 2, two hpa targets; two seeds each, 30 steps, one workload. */
const TINY: TuningSetup = {
  set: {
    seeds: { training: { count: 2, start: 10_000 }, "held-out": { count: 2, start: 1 } },
    workloads: ["diurnal"],
    steps: 30,
    stepSeconds: 10,
  },
  preTuning: TUNING.preTuning,
  stage1: { cpuHigh: [0.45, 0.8] },
  stage2: { drainSlowPods: [true] },
  hpa: { targetCpu: [0.35, 0.6] },
};

/** Stores of 3 candidates on one thread, or of the default 32 on two: the Markdown must not tell. */
const run = (db: string, jobs: number) =>
  tune({ setup: TINY, db, jobs, resamples: 200, log: () => {}, ...(jobs === 1 ? { candidatesPerStore: 3 } : {}) });

/** avg(uptime), avg(replica_seconds) and the episodes of every policy label, straight from episode_metrics. */
async function viewScores(dir: string) {
  const scores = new Map<string, { uptime: number; cost: number; episodes: number }>();
  for (const file of readdirSync(dir).filter((f) => f.includes("-training-"))) {
    const store = await TraceStore.open(join(dir, file));
    try {
      const rows = await store.query(
        `SELECT policy, avg(uptime) AS uptime, avg(replica_seconds) AS cost, count(*) AS episodes
           FROM episode_metrics WHERE status = 'completed' GROUP BY policy`,
      );
      for (const r of rows) {
        expect(scores.has(r.policy as string), `${r.policy} stored once`).toBe(false);
        scores.set(r.policy as string, {
          uptime: r.uptime as number,
          cost: r.cost as number,
          episodes: Number(r.episodes),
        });
      }
    } finally {
      await store.close();
    }
  }
  return scores;
}

// Each tuning runs a handful of small matrices on worker threads: seconds alone, minutes beside a CPU stressor.
describe("tune-baselines", { timeout: 600_000 }, () => {
  let first: TuneResult;
  const firstDb = join(root, "first");

  it("scores every candidate from the stores' episode_metrics and ranks on those figures", async () => {
    first = await run(firstDb, 1);
    const sql = await viewScores(firstDb);
    // 7 fault cells x 2 frequencies x 1 workload x 2 seeds.
    const perCandidate = 28;
    expect(first.training.length).toBeGreaterThanOrEqual(5);
    for (const { label, score } of first.training) {
      const s = sql.get(label);
      expect(s, `${label} in a training store`).toBeDefined();
      expect(score.episodes, label).toBe(perCandidate);
      expect(s!.episodes, label).toBe(perCandidate);
      expect(score.uptime, label).toBeCloseTo(s!.uptime, 12);
      expect(score.cost, label).toBeCloseTo(s!.cost, 9);
    }
    // The choices follow from the SQL figures alone.
    const byParams = (name: string, params: Record<string, number | boolean>) =>
      first.training.find(
        (c) => c.candidate.name === name && JSON.stringify(c.candidate.params) === JSON.stringify(params),
      )!.label;
    const stage1 = gridPoints(TINY.stage1).map((p) => ({ ...TINY.preTuning.heuristic, ...p }));
    const stage1Sql = stage1.map((p) => sql.get(byParams("heuristic", p))!);
    expect(first.heuristic).toEqual(stage1[ranking(stage1Sql, [1, 0])[0]!]);
    const hpa = gridPoints(TINY.hpa).map((p) => ({ ...TINY.preTuning.hpa, ...p }));
    const hpaSql = hpa.map((p) => sql.get(byParams("hpa", p))!);
    expect(first.hpa).toEqual(hpa[ranking(hpaSql, [1, 0])[0]!]);
    expect(first.markdown).toContain("## Paired differences, tuned minus pre-tuning");
  });

  it("prints the same Markdown on a second run, with another worker count", async () => {
    const second = await run(join(root, "second"), 2);
    expect(second.markdown).toBe(first.markdown);
  });

  it("refuses a --db folder that already holds stores", async () => {
    await expect(run(firstDb, 1)).rejects.toThrow(/new or empty folder/);
  });
});
