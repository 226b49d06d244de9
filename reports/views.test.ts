/**
 * The metric views on hand-made traces whose answers can be worked out by hand: 10-second
 * steps, a 20-second (2-step) confirmation window unless a test says otherwise.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Action } from "../harness/core/contract.ts";
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

async function incidents(episodeId: number) {
  return store.query(
    `SELECT started_at, recovered_at, censored, ttr_s, observed_s, downtime_s
     FROM incidents WHERE episode_id = ? ORDER BY incident`,
    [episodeId],
  );
}

async function outcomes(episodeId: number) {
  return store.query(
    "SELECT fault_id, incidents, outcome, fault_ttr_s FROM fault_outcomes WHERE episode_id = ? ORDER BY fault_id",
    [episodeId],
  );
}

async function episodeMetrics(episodeId: number) {
  const [row] = await store.query("SELECT * FROM episode_metrics WHERE episode_id = ?", [episodeId]);
  return row!;
}

const end = (step: number, faultId = 0): Partial<TraceEvent> => ({ time: step * 10, kind: "fault-ended", faultId });

describe("incidents (10 s steps, 20 s confirmation window)", () => {
  it("runs from the first breached step to the start of the first SLO-ok span as long as the window", async () => {
    // Fault at step 2, SLO broken at steps 3-5, ok again from step 6: 30 s from 30 s to 60 s.
    const id = await write(broken(3, 4, 5), [inject(2)], { seed: 101 });
    expect(await incidents(id)).toEqual([
      { started_at: 30, recovered_at: 60, censored: false, ttr_s: 30, observed_s: 30, downtime_s: 30 },
    ]);
    expect(await outcomes(id)).toEqual([{ fault_id: 0, incidents: 1, outcome: "impacted", fault_ttr_s: 40 }]);
    expect(await episodeMetrics(id)).toMatchObject({ incidents: 1, closed_incidents: 1, mttr_s: 30, ttr_s_total: 30 });
  });

  it("joins breaches separated by an SLO-ok span shorter than the window into one incident", async () => {
    // Ok at step 5 alone (10 s < 20 s), broken again at 6, then ok from 7 on.
    const id = await write(broken(3, 4, 6), [inject(2)], { seed: 102 });
    expect(await incidents(id)).toEqual([
      { started_at: 30, recovered_at: 70, censored: false, ttr_s: 40, observed_s: 40, downtime_s: 30 },
    ]);
  });

  it("delayed onset (network delay): the outage 30 s after the injection is the fault's, not 'recovered in 0 s'", async () => {
    // Delay injected at step 2 and live to step 8; p95 latency crosses the SLO at step 5
    // (three healthy samples first), broken to step 7.
    const id = await write(broken(5, 6, 7), [inject(2), end(8)], { seed: 103, fault: "network-delay" });
    expect(await incidents(id)).toEqual([
      { started_at: 50, recovered_at: 80, censored: false, ttr_s: 30, observed_s: 30, downtime_s: 30 },
    ]);
    expect(await outcomes(id)).toEqual([{ fault_id: 0, incidents: 1, outcome: "impacted", fault_ttr_s: 60 }]);
  });

  it("delayed onset (memory leak): the OOM kill minutes later is still the leak's incident", async () => {
    // 40 steps. Leak injected at step 1; OOM kill at step 25 breaks the SLO for 2 steps; the
    // restarted container is ready at step 28 (the leak's effect ends there).
    const id = await write(broken(25, 26), [inject(1), end(28)], { seed: 104, fault: "memory-leak", steps: 40 }, 40);
    expect(await incidents(id)).toEqual([
      { started_at: 250, recovered_at: 270, censored: false, ttr_s: 20, observed_s: 20, downtime_s: 20 },
    ]);
    expect(await outcomes(id)).toEqual([{ fault_id: 0, incidents: 1, outcome: "impacted", fault_ttr_s: 260 }]);
  });

  it("with steps as long as the window, one healthy sample confirms, and the injection sample is not an incident", async () => {
    // 30 s steps, 30 s window: injected at step 2 (60 s), broken at steps 3-4, ok at 5.
    const id = await store.writeEpisode(
      "run-1",
      makeMeta({ seed: 105, steps: 10, stepSeconds: 30, confirmWindowS: 30 }),
      makeTrace(10, broken(3, 4), [{ ...inject(2), time: 60 }], 30),
    );
    expect(await incidents(id)).toEqual([
      { started_at: 90, recovered_at: 150, censored: false, ttr_s: 60, observed_s: 60, downtime_s: 60 },
    ]);
  });

  it("is censored when the SLO does not hold for the window before the episode ends", async () => {
    // Broken from step 3 to 8; step 9 alone is ok: 10 s, the window needs 20.
    const id = await write(broken(3, 4, 5, 6, 7, 8), [inject(2)], { seed: 106 });
    expect(await incidents(id)).toEqual([
      { started_at: 30, recovered_at: null, censored: true, ttr_s: null, observed_s: 70, downtime_s: 60 },
    ]);
    expect(await outcomes(id)).toEqual([{ fault_id: 0, incidents: 1, outcome: "impacted", fault_ttr_s: null }]);
    expect(await episodeMetrics(id)).toMatchObject({
      incidents: 1,
      closed_incidents: 0,
      censored_incidents: 1,
      mttr_s: null,
      observed_ttr_s_total: 70,
    });
  });

  it("counts overlapping faults' one outage once, attributed to both", async () => {
    // Faults at steps 2 and 3, the SLO broken 3-5: one incident, both faults impacted by it.
    const id = await write(broken(3, 4, 5), [inject(2, 0), inject(3, 1)], { seed: 107 });
    expect(await incidents(id)).toHaveLength(1);
    expect((await outcomes(id)).map((o) => [o.fault_id, o.outcome])).toEqual([
      [0, "impacted"],
      [1, "impacted"],
    ]);
    expect(await episodeMetrics(id)).toMatchObject({ incidents: 1, faults: 2, impacted_faults: 2 });
  });

  it("calls a fault absorbed when no incident touches its live span, and masked when it lands in one", async () => {
    // Fault 0 at step 1 ends at step 2 with the SLO held; fault 1 at step 5 lands in an
    // incident that started at step 4 (no fault live: unattributed) and causes none.
    const id = await write(broken(4, 5, 6), [inject(1, 0), end(2, 0), inject(5, 1), end(6, 1)], { seed: 108 });
    expect((await outcomes(id)).map((o) => [o.fault_id, o.incidents, o.outcome])).toEqual([
      [0, 0, "absorbed"],
      [1, 0, "masked"],
    ]);
    expect(await episodeMetrics(id)).toMatchObject({
      absorbed_faults: 1,
      masked_faults: 1,
      impacted_faults: 0,
      unattributed_incidents: 1,
      unattributed_downtime_s: 30,
    });
  });

  it("reports an action-caused outage as unattributed downtime", async () => {
    // No fault at all; a scale-down at step 3 breaks the SLO at steps 4-5.
    const down = { proposed: Action.ScaleDown, executed: Action.ScaleDown, applied: 1 };
    const id = await write((i) => (i === 3 ? down : [4, 5].includes(i) ? { slo_ok: 0 } : {}), [], { seed: 109 });
    expect(await episodeMetrics(id)).toMatchObject({
      incidents: 1,
      faults: 0,
      unattributed_incidents: 1,
      unattributed_downtime_s: 20,
      unnecessary_actions: 1,
    });
  });

  it("records skipped and unreached faults without counting them as injected", async () => {
    const id = await write(
      () => ({}),
      [
        inject(1, 0),
        { time: 30, kind: "fault-skipped", faultId: 1 },
        { time: 120, kind: "fault-unreached", faultId: 2 },
      ],
      { seed: 110 },
    );
    expect(await episodeMetrics(id)).toMatchObject({ faults: 1, skipped_faults: 1, unreached_faults: 1, incidents: 0 });
  });
});

describe("action judgements", () => {
  const restart = { proposed: Action.RestartPod, executed: Action.RestartPod, applied: 1 };

  it("calls an action harmful only when the paired none episode fared better over the window", async () => {
    const cell = { fault: "cpu-stress", frequency: "judged" };
    // The fault breaks the SLO at steps 3-4 in both episodes; heuristic's restart at step 2
    // adds a breach at step 5 (10 s more than none over (20, 40] s: > 10% of the 20 s window?
    // No: steps 3-4 are the window, equal in both). Its restart at step 6 breaks 7-8, where
    // none held: 20 s worse, harmful.
    await write(broken(3, 4), [inject(2)], { ...cell, policy: "none", seed: 1 });
    const id = await write(
      (i) => (i === 2 || i === 6 ? restart : [3, 4, 5, 7, 8].includes(i) ? { slo_ok: 0 } : {}),
      [inject(2)],
      { ...cell, policy: "heuristic", seed: 1 },
    );
    const rows = await store.query(
      "SELECT step, fault_live, harm_s, harmful FROM action_judgements WHERE episode_id = ? ORDER BY step",
      [id],
    );
    expect(rows).toEqual([
      { step: 2, fault_live: true, harm_s: 0, harmful: false },
      { step: 6, fault_live: true, harm_s: 20, harmful: true },
    ]);
    expect(await episodeMetrics(id)).toMatchObject({ judged_actions: 2, harmful_actions: 1 });
  });

  it("leaves harm unjudged (NULL) without a paired none episode", async () => {
    const id = await write((i) => (i === 2 ? restart : {}), [], { fault: "cpu-stress", frequency: "alone", seed: 9 });
    expect(await episodeMetrics(id)).toMatchObject({ actions: 1, judged_actions: 0, harmful_actions: null });
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
      observed_s: 100,
      uptime: 0.7,
      replica_seconds: (5 * 3 + 5 * 4) * 10,
      drained_pod_seconds: 20,
      faults: 0,
      // Broken from the start to 30 s with no fault: an unattributed incident of 30 s.
      mttr_s: 30,
      unattributed_downtime_s: 30,
    });
  });

  it("counts applied actions by type, unnecessary ones and refusals", async () => {
    const act = (a: number, applied = 1) => ({ proposed: a, executed: applied ? a : Action.Noop, applied });
    const steps: Record<number, StepValues> = {
      0: act(Action.RestartPod), // needed: the fault injected at step 0 is live
      3: { ...act(Action.ScaleUp), slo_ok: 0 }, // needed: the SLO is broken
      5: act(Action.DrainPod), // the SLO has held only 10 s since the breach: not unnecessary
      6: act(Action.ScaleUp, 0), // refused, not counted as an action
      7: act(Action.ScaleDown), // unnecessary: no fault live, SLO held since step 4 (30 s)
      9: act(Action.ScaleUp), // unnecessary
    };
    const id = await write((i) => steps[i] ?? {}, [inject(0), end(2)], { seed: 202 });
    expect(await episodeMetrics(id)).toMatchObject({
      actions: 5,
      restarts: 1,
      scale_ups: 2,
      scale_downs: 1,
      drains: 1,
      unnecessary_actions: 2,
      refused: 1,
    });
  });

  it("measures uneven sampling by time_s, not by step counts", async () => {
    // Steps at 0, 10, 40, 50 s (the third interval is 30 s long): the SLO broken at 10 s
    // holds until 40 s: 30 of 60 s.
    const times = [0, 10, 40, 50];
    const id = await write((i) => ({ time_s: times[i]!, slo_ok: i === 1 ? 0 : 1 }), [], { seed: 206, steps: 4 }, 4);
    expect(await episodeMetrics(id)).toMatchObject({ observed_s: 60, uptime: 0.5, downtime_s: 30 });
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
  it("pools incidents across a cell's completed episodes and leaves incomplete ones out", async () => {
    const cell = { fault: "cpu-stress", frequency: "rare", policy: "hpa" };
    // Seed 1: incident of 30 s; seed 2: incidents of 10 s and a censored one (steps 8-9);
    // seed 3 aborted (ignored).
    await write(broken(3, 4, 5), [inject(2)], { ...cell, seed: 1 });
    await write(broken(2, 8, 9), [inject(1, 0), inject(6, 1)], { ...cell, seed: 2, wallMs: 3 });
    await write(broken(0, 1, 2, 3), [inject(0)], { ...cell, seed: 3, status: "aborted" });
    const rows = (await store.cellMetrics("run-1")).filter((r) => r.fault === "cpu-stress" && r.frequency === "rare");
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toMatchObject({
      runId: "run-1",
      episodes: 2,
      seeds: 2,
      incomplete: 1,
      faults: 3,
      incidents: 3,
      closedIncidents: 2,
      censoredIncidents: 1,
      mttrMeanS: 20,
      mttrMedianS: 20,
      replicaSecondsMean: 300,
    });
    expect(row.mttrP95S).toBeCloseTo(29, 9); // quantile_cont over [10, 30]
    // Kaplan-Meier: 10 s (3 at risk: S = 2/3), censored 20 s, 30 s (1 at risk: S = 0): median 30.
    expect(row.mttrKmMedianS).toBe(30);
    // Restricted mean: (30 + 10 + 20) / 3.
    expect(row.mttrRestrictedS).toBeCloseTo(20, 12);
    expect(row.uptimeMean).toBeCloseTo((0.7 + 0.7) / 2, 12);
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
        "incidents",
        "closedIncidents",
        "censoredIncidents",
        "mttrMeanS",
        "mttrMedianS",
        "mttrP95S",
        "mttrKmMedianS",
        "mttrRestrictedS",
        "unattributedDowntimeSMean",
        "faults",
        "impactedFaults",
        "absorbedFaults",
        "maskedFaults",
        "skippedFaults",
        "unreachedFaults",
        "faultTtrMeanS",
        "replicaSecondsMean",
        "actionsMean",
        "unnecessaryActionsMean",
        "harmfulActionsMean",
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
