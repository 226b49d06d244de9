/**
 * `compareBackends` on two tiny hand-made stores, one per backend, whose numbers can be
 * worked out on paper. One fault (pod-kill at 20 s), none and heuristic, seeds 1-3, 10 steps
 * of 10 s, a 20 s confirmation window:
 * - sim: none breaks the SLO at step 3 (one 10 s incident, uptime 0.9); heuristic never.
 * - local: none breaks it at steps 3-5 (30 s, uptime 0.7); heuristic at step 3 (10 s, 0.9)
 *   and runs 4 replicas at its last step (cost 310 replica-s instead of 300).
 * Pooled over policies: uptime 0.95 sim, 0.80 local (-15 pp); MTTR 10 s sim (3 incidents of
 * 10 s), 20 s local (3 of 30 s and 3 of 10 s); cost 300 sim, 305 local.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Action } from "../harness/core/contract.ts";
import { parseScenario } from "../harness/scenario-file.ts";
import { TraceStore } from "../harness/store.ts";
import { makeMeta, makeRunContext, makeTrace, tempDir } from "../harness/store-fixtures.ts";
import type { TraceEvent } from "../harness/trace.ts";
import { ALL_POLICIES, compareBackends } from "./backends.ts";
import { loadReportData, ReportInputError } from "./load.ts";

const scenario = (backend: string) => `name: cal
backend: ${backend}
steps: 10
seeds: [1, 2, 3]
slo: { latencyMs: 300, errorRate: 0.01, confirmWindowS: 20 }
matrix:
  fault: [pod-kill]
  frequency:
    once: { kind: fixed, intervalS: 1000, offsetS: 20 }
  policy: [none, heuristic]
`;

const BROKEN = {
  sim: { none: [3], heuristic: [] },
  local: { none: [3, 4, 5], heuristic: [3] },
} as const;

const fault = (time: number, kind: "fault-injected" | "fault-cleared"): Partial<TraceEvent> => ({
  time,
  kind,
  faultId: 0,
  podId: 1,
  detail: "pod-kill pod 1",
});

async function build(path: string, backend: "sim" | "local"): Promise<void> {
  const runId = `cal-${backend}`;
  const store = await TraceStore.open(path);
  try {
    await store.beginRun(
      makeRunContext({ runId, scenarioName: "cal", scenarioText: scenario(backend), backend, seeds: [1, 2, 3] }),
    );
    for (const policy of ["none", "heuristic"] as const) {
      const broken: readonly number[] = BROKEN[backend][policy];
      for (let seed = 1; seed <= 3; seed++) {
        const trace = makeTrace(
          10,
          (i) => ({
            active_faults: i >= 2 && i < 4 ? 1 : 0,
            ...(broken.includes(i) ? { slo_ok: 0, latency_ms: 420 } : {}),
            ...(policy === "heuristic" && i === 3
              ? { proposed: Action.RestartPod, executed: Action.RestartPod, applied: 1 }
              : {}),
            ...(backend === "local" && policy === "heuristic" && i === 9 ? { desired_replicas: 4 } : {}),
          }),
          [fault(20, "fault-injected"), fault(40, "fault-cleared")],
        );
        const meta = {
          ...makeMeta({ fault: "pod-kill", frequency: "once", policy, seed, confirmWindowS: 20 }),
          backend,
        };
        await store.writeEpisode(runId, meta, trace);
      }
    }
    await store.finishRun(runId, "completed");
  } finally {
    await store.close();
  }
}

describe("compareBackends: the simulator against the local testbed per fault type", () => {
  const dir = tempDir("backends-");
  const stores: Record<"sim" | "local", TraceStore> = {} as never;

  beforeAll(async () => {
    for (const b of ["sim", "local"] as const) {
      await build(join(dir, `${b}.duckdb`), b);
      stores[b] = await TraceStore.open(join(dir, `${b}.duckdb`));
    }
  });
  afterAll(async () => {
    for (const s of Object.values(stores)) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const load = (b: "sim" | "local") => loadReportData(stores[b], { charts: false });

  it("shows each backend's uptime, MTTR and cost with the paired difference, pooled and per policy", async () => {
    const c = compareBackends(await load("sim"), await load("local"), { resamples: 200 });
    expect(c.realBackend).toBe("local");
    expect(c.notes).toEqual([]);
    const pooled = c.rows.find((r) => r.policy === ALL_POLICIES)!;
    expect([pooled.nSim, pooled.nReal]).toEqual([6, 6]);
    expect(pooled.sim.uptime.estimate).toBeCloseTo(0.95, 10);
    expect(pooled.real.uptime.estimate).toBeCloseTo(0.8, 10);
    expect(pooled.difference.uptime.estimate).toBeCloseTo(-0.15, 10);
    expect(pooled.difference.uptime.n).toBe(6);
    expect(pooled.sim.mttr.estimate).toBeCloseTo(10, 10);
    expect(pooled.real.mttr.estimate).toBeCloseTo(20, 10);
    expect(pooled.sim.cost.estimate).toBeCloseTo(300, 10);
    expect(pooled.real.cost.estimate).toBeCloseTo(305, 10);
    // Three seeds: an interval, here of no width (every seed repeats the same episode).
    expect(pooled.real.uptime.lower).toBeCloseTo(0.8, 10);
    expect(pooled.real.uptime.upper).toBeCloseTo(0.8, 10);

    const none = c.rows.find((r) => r.policy === "none")!;
    expect(none.real.uptime.estimate).toBeCloseTo(0.7, 10);
    expect(none.difference.mttr.estimate).toBeCloseTo(20, 10);
    const heuristic = c.rows.find((r) => r.policy === "heuristic")!;
    expect(heuristic.sim.mttr.estimate).toBeNaN();

    expect(c.markdown).toContain("# Simulator against local: cal");
    expect(c.markdown).toMatch(/\| pod-kill +\| +6 \/ 6 \| +95\.0% \[95\.0, 95\.0\] \| +80\.0% \[80\.0, 80\.0\] \|/);
    expect(c.markdown).toContain("-15.0 pp [-15.0, -15.0]");
  });

  it("refuses runs on the wrong backends, naming the run", async () => {
    const sim = await load("sim");
    const local = await load("local");
    expect(() => compareBackends(local, local)).toThrow(ReportInputError);
    expect(() => compareBackends(local, local)).toThrow(/--sim: run cal-local ran on backend local/);
    expect(() => compareBackends(sim, sim)).toThrow(/--real: run cal-sim ran on the simulator/);
  });

  it("says when the two runs are not the same experiment", async () => {
    const sim = await load("sim");
    const local = await load("local");
    const text = scenario("local").replace("steps: 10", "steps: 12");
    const other = { ...local, run: { ...local.run, scenarioText: text }, scenario: parseScenario(text, "cal.yaml") };
    expect(compareBackends(sim, other).notes.join(" ")).toMatch(/differ in more than the backend/);
  });
});
