/**
 * The metric views on hand-made traces whose answers can be worked out by hand: 10-second
 * steps, a 20-second (2-step) confirmation window unless a test says otherwise.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Action } from "../harness/contract.ts";
import type { EpisodeMeta } from "../harness/store.ts";
import { TraceStore } from "../harness/store.ts";
import { makeMeta, makeRunContext, makeTrace, type StepValues, tempDir } from "../harness/store-fixtures.ts";
import type { TraceEvent } from "../harness/trace.ts";
import { FLAP_WINDOW_S, VIEW_NAMES } from "./views.ts";

const dir = tempDir("views-");
let store: TraceStore;

beforeAll(async () => {
  store = await TraceStore.open(join(dir, "t.duckdb"));
  await store.beginRun(makeRunContext());
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const broken =
  (...steps: number[]) =>
  (i: number): StepValues =>
    steps.includes(i) ? { slo_ok: 0 } : {};
const inject = (step: number, faultId = 0): Partial<TraceEvent> => ({
  time: step * 10,
  kind: "fault-injected",
  faultId,
});

async function write(
  step: (i: number) => StepValues,
  events: Partial<TraceEvent>[] = [],
  meta: Partial<EpisodeMeta> = {},
  n = 10,
): Promise<number> {
  return store.writeEpisode("run-1", makeMeta({ steps: n, ...meta }), makeTrace(n, step, events));
}

async function recoveries(episodeId: number) {
  return store.query(
    "SELECT fault_id, injected_at, recovered_at, recovery_s, impacted FROM recoveries WHERE episode_id = ? ORDER BY fault_id",
    [episodeId],
  );
}

async function episodeMetrics(episodeId: number) {
  const [row] = await store.query("SELECT * FROM episode_metrics WHERE episode_id = ?", [episodeId]);
  return row!;
}

describe("recoveries", () => {
  it("measures from the injection to the start of the first SLO-ok run as long as the window", async () => {
    // Fault at step 2, SLO broken at steps 3-5, ok again from step 6: recovered at 60 s.
    const id = await write(broken(3, 4, 5), [inject(2)], { seed: 101 });
    expect(await recoveries(id)).toEqual([
      { fault_id: 0, injected_at: 20, recovered_at: 60, recovery_s: 40, impacted: true },
    ]);
  });

  it("skips an SLO-ok run shorter than the confirmation window", async () => {
    // Ok at step 5 alone, broken again at 6, then ok from 7 on.
    const id = await write(broken(3, 4, 6), [inject(2)], { seed: 102 });
    expect((await recoveries(id))[0]).toMatchObject({ recovered_at: 70, recovery_s: 50 });
  });

  it("needs ceil(window / step) steps: a 25 s window at 10 s steps is 3 steps", async () => {
    // Ok runs: step 5-6 (2 steps, too short), then 8-9 (too short): unrecovered.
    const id = await write(broken(3, 4, 7), [inject(2)], { seed: 103, confirmWindowS: 25 });
    expect((await recoveries(id))[0]).toMatchObject({ recovered_at: null, recovery_s: null, impacted: true });
  });

  it("is censored (NULL) when the SLO does not hold long enough before the episode ends", async () => {
    // Broken from step 3 to 8; step 9 alone is ok: one step, the window needs two.
    const id = await write(broken(3, 4, 5, 6, 7, 8), [inject(2)], { seed: 104 });
    expect(await recoveries(id)).toEqual([
      { fault_id: 0, injected_at: 20, recovered_at: null, recovery_s: null, impacted: true },
    ]);
    expect(await episodeMetrics(id)).toMatchObject({ faults: 1, recovered: 0, unrecovered: 1, mttr_s: null });
  });

  it("is 0 and not impacted when the SLO never broke", async () => {
    const id = await write(() => ({}), [inject(4)], { seed: 105 });
    expect(await recoveries(id)).toEqual([
      { fault_id: 0, injected_at: 40, recovered_at: 40, recovery_s: 0, impacted: false },
    ]);
  });

  it("ignores breaches before the injection and measures each fault on its own", async () => {
    // Broken at 1 (before any fault); fault 0 at step 3 breaks 4-5; fault 1 at step 6 never breaks it.
    const id = await write(broken(1, 4, 5), [inject(3, 0), inject(6, 1)], { seed: 106 });
    const rows = await recoveries(id);
    expect(rows.map((r) => [r.fault_id, r.recovery_s, r.impacted])).toEqual([
      [0, 30, true],
      [1, 0, false],
    ]);
    expect(await episodeMetrics(id)).toMatchObject({ faults: 2, recovered: 2, mttr_s: 15, recovery_s_total: 30 });
  });
});

describe("episode_metrics", () => {
  it("computes uptime, replica-seconds and drained pod-seconds from the steps", async () => {
    const id = await write(
      (i) => ({ slo_ok: i < 3 ? 0 : 1, desired_replicas: i < 5 ? 3 : 4, drained: i === 9 ? 2 : 0 }),
      [],
      { seed: 201 },
    );
    expect(await episodeMetrics(id)).toMatchObject({
      steps: 10,
      uptime: 0.7,
      replica_seconds: (5 * 3 + 5 * 4) * 10,
      drained_pod_seconds: 20,
      faults: 0,
      mttr_s: null,
    });
  });

  it("counts applied actions by type, unnecessary ones and refusals", async () => {
    const act = (a: number, applied = 1) => ({ proposed: a, executed: applied ? a : Action.Noop, applied });
    const steps: Record<number, StepValues> = {
      0: { ...act(Action.RestartPod), active_faults: 1 }, // needed: a fault is active
      1: { ...act(Action.ScaleUp), slo_ok: 0 }, // needed: the SLO is broken
      2: act(Action.DrainPod), // unnecessary: SLO ok, no fault
      3: act(Action.ScaleUp, 0), // refused, not counted as an action
      4: act(Action.ScaleDown), // unnecessary
    };
    const id = await write((i) => steps[i] ?? {}, [], { seed: 202 });
    expect(await episodeMetrics(id)).toMatchObject({
      actions: 4,
      restarts: 1,
      scale_ups: 1,
      scale_downs: 1,
      drains: 1,
      unnecessary_actions: 2,
      refused: 1,
    });
  });

  it(`counts a scale reversal within ${FLAP_WINDOW_S} s as a flap, and not one beyond`, async () => {
    const up = { proposed: Action.ScaleUp, executed: Action.ScaleUp, applied: 1 };
    const down = { proposed: Action.ScaleDown, executed: Action.ScaleDown, applied: 1 };
    const restart = { proposed: Action.RestartPod, executed: Action.RestartPod, applied: 1 };
    // 64 steps of 10 s. Up at 0 s, restart at 100 s, down at 300 s: one flap (exactly 300 s;
    // the restart is no scale). Up at 610 s: 310 s after the down, no flap. Up at 620 s: same
    // direction, no flap.
    const at: Record<number, StepValues> = { 0: up, 10: restart, 30: down, 61: up, 62: up };
    const id = await write((i) => at[i] ?? {}, [], { seed: 203, steps: 64 }, 64);
    expect(await episodeMetrics(id)).toMatchObject({ flaps: 1, scale_ups: 3, scale_downs: 1, restarts: 1 });
    // A refused reversal is no flap.
    const refused = { proposed: Action.ScaleDown, executed: Action.Noop, applied: 0 };
    const id2 = await write((i) => (i === 0 ? up : i === 1 ? refused : {}), [], { seed: 204 });
    expect(await episodeMetrics(id2)).toMatchObject({ flaps: 0, refused: 1 });
  });

  it("counts regression and policy-error events and sums the reward", async () => {
    const id = await write(
      (i) => ({ reward: i * 0.5 }),
      [
        { kind: "regression", action: Action.ScaleDown, time: 30 },
        { kind: "policy-error", time: 40 },
        { kind: "policy-error", time: 50 },
      ],
      { seed: 205 },
    );
    expect(await episodeMetrics(id)).toMatchObject({ regressions: 1, policy_errors: 2, return: 22.5 });
  });
});

describe("cell metrics", () => {
  it("pools recoveries across a cell's completed episodes and leaves incomplete ones out", async () => {
    const cell = { fault: "cpu-stress", frequency: "rare", policy: "hpa" };
    // Seed 1: recovery 40 s; seed 2: recoveries 20 s and 0 s; seed 3 aborted (ignored).
    await write(broken(3, 4, 5), [inject(2)], { ...cell, seed: 1 });
    await write(broken(2), [inject(1, 0), inject(6, 1)], { ...cell, seed: 2, wallMs: 3 });
    await write(broken(0, 1, 2, 3), [inject(0)], { ...cell, seed: 3, status: "aborted" });
    const rows = (await store.cellMetrics("run-1")).filter((r) => r.fault === "cpu-stress");
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toMatchObject({
      runId: "run-1",
      episodes: 2,
      seeds: 2,
      incomplete: 1,
      faults: 3,
      recovered: 3,
      unrecovered: 0,
      mttrMeanS: 20,
      mttrMedianS: 20,
      replicaSecondsMean: 300,
    });
    expect(row.mttrP95S).toBeCloseTo(38, 9); // quantile_cont over [0, 20, 40]
    expect(row.uptimeMean).toBeCloseTo((0.7 + 0.9) / 2, 12);
  });

  it("gives bit-identical means whatever order a cell's episodes were stored in", async () => {
    // Floating-point sums depend on their order, and the order episodes reach the store
    // depends on which worker finished first: two runs of one scenario must still agree.
    const episodes = Array.from({ length: 30 }, (_, k) => {
      const n = 37;
      return {
        meta: makeMeta({ seed: k + 1, steps: n, stepSeconds: 10 }),
        trace: makeTrace(
          n,
          (i) => ({
            slo_ok: (i * 7 + k * 3) % (k + 4) === 0 ? 0 : 1,
            reward: Math.sin(i * 0.37 + k) / 3,
            drained: (i + k) % 5 === 0 ? 1 : 0,
            desired_replicas: 3 + ((i * k) % 4),
          }),
          [inject(k % 9), inject(10 + (k % 13), 1)],
        ),
      };
    });
    const metrics = async (order: typeof episodes) => {
      const s = await TraceStore.open(join(dir, `order-${order === episodes ? "forward" : "reverse"}.duckdb`));
      try {
        await s.beginRun(makeRunContext());
        for (const e of order) await s.writeEpisode("run-1", e.meta, e.trace);
        return await s.cellMetrics("run-1");
      } finally {
        await s.close();
      }
    };
    const forward = await metrics(episodes);
    const reverse = await metrics([...episodes].reverse());
    expect(forward[0]!.episodes).toBe(30);
    expect(reverse).toEqual(forward);
  });

  it("returns every column of CellMetricsRow, in camelCase", async () => {
    const [row] = await store.cellMetrics();
    expect(Object.keys(row!).sort()).toEqual(
      [
        "runId",
        "fault",
        "frequency",
        "policy",
        "episodes",
        "seeds",
        "incomplete",
        "uptimeMean",
        "faults",
        "recovered",
        "unrecovered",
        "mttrMeanS",
        "mttrMedianS",
        "mttrP95S",
        "replicaSecondsMean",
        "actionsMean",
        "unnecessaryActionsMean",
        "restartsMean",
        "flapsMean",
        "drainedPodSecondsMean",
        "refusedMean",
        "regressions",
        "policyErrors",
        "returnMean",
      ].sort(),
    );
  });

  it("counts proposals, executions and refusals by action name", async () => {
    const cell = { fault: "load-spike", frequency: "rare", policy: "random" };
    const at: Record<number, StepValues> = {
      1: { proposed: Action.ScaleUp, executed: Action.ScaleUp, applied: 1 },
      2: { proposed: Action.ScaleUp, executed: Action.Noop, applied: 0 },
      3: { proposed: Action.RestartPod, executed: Action.RestartPod, applied: 1 },
    };
    await write((i) => at[i] ?? {}, [], { ...cell, seed: 1 });
    const rows = await store.query(
      "SELECT action, proposed, executed, refused FROM actions_by_type WHERE fault = 'load-spike' ORDER BY action",
    );
    expect(rows).toEqual([
      { action: "restart-pod", proposed: 1, executed: 1, refused: 0 },
      { action: "scale-up", proposed: 2, executed: 1, refused: 1 },
    ]);
  });

  it("defines every view the store creates", async () => {
    const rows = await store.query("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY view_name");
    expect(rows.map((r) => r.view_name)).toEqual([...VIEW_NAMES].sort());
  });
});

describe("slo_breakdown", () => {
  it("splits the broken steps by the part of the SLO that broke (parts may overlap)", async () => {
    // 10 steps; SLO ceilings 300 ms and 1%. Step 1: latency; step 2: errors; step 3: both;
    // step 4: no ready replica (and errors); steps 5-9 fine.
    const at: Record<number, StepValues> = {
      1: { slo_ok: 0, latency_ms: 400 },
      2: { slo_ok: 0, error_rate: 0.05 },
      3: { slo_ok: 0, latency_ms: 301, error_rate: 0.011 },
      4: { slo_ok: 0, ready_replicas: 0, error_rate: 1 },
    };
    const id = await write((i) => at[i] ?? {}, [], { seed: 301 });
    const [row] = await store.query("SELECT * FROM slo_breakdown WHERE episode_id = ?", [id]);
    expect(row).toEqual({
      episode_id: id,
      steps: 10,
      breached: 0.4,
      no_ready: 0.1,
      latency_over: 0.2,
      errors_over: 0.3,
    });
    expect((await episodeMetrics(id)).uptime).toBeCloseTo(1 - 0.4, 12);
  });

  it("has NULL shares for an episode without steps", async () => {
    const id = await store.writeEpisode("run-1", makeMeta({ seed: 302, steps: 0, status: "failed" }), makeTrace(0));
    const [row] = await store.query("SELECT steps, breached, no_ready FROM slo_breakdown WHERE episode_id = ?", [id]);
    expect(row).toEqual({ steps: 0, breached: null, no_ready: null });
  });
});
