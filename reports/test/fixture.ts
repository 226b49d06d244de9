/**
 * A tiny trace store built by hand (harness/store-fixtures.ts), small enough that every
 * number of its report can be worked out on paper: the golden tests' input.
 *
 * One fault (pod-kill) at two frequencies, two policies, six seeds, 10 steps of 10 s, a
 * 20 s (2-step) confirmation window: 24 episodes.
 * - `often`: a pod-kill at step 2 (cleared at step 4). Seeds 1-3 and 4-6 repeat one pattern:
 *   none breaks the SLO (latency) for 3, 4, 2 steps from step 3 -> incidents of 30, 40,
 *   20 s, uptime 0.7, 0.6, 0.8; heuristic restarts the pod at step 3 and breaks it (errors)
 *   for 1, 2, 0 steps -> incidents of 10 and 20 s and none, uptime 0.9, 0.8, 1.0.
 * - `rare`: no fault; the SLO always holds. Heuristic scales up once at step 8 with nothing
 *   wrong (an unnecessary action), so its cost is 310 replica-s in those episodes.
 * Hence over the matrix: uptime none 0.85, heuristic 0.95 (paired difference +0.1); MTTR
 * none 30 s, heuristic 15 s over its 4 incidents (rare cells have none: no MTTR there); cost none 300,
 * heuristic 305. In the `often` cell every one of the 6 pairs differs the same way (+0.2
 * uptime), one pair per seed, so the exact sign-flip p-value over the 6 seeds is 2/64.
 */
import { Action } from "../../harness/core/contract.ts";
import { TraceStore } from "../../harness/store.ts";
import { makeMeta, makeRunContext, makeTrace, type StepValues } from "../../harness/store-fixtures.ts";
import type { TraceEvent } from "../../harness/trace.ts";

export const FIXTURE_SCENARIO = `name: golden
description: Hand-made traces for the report golden tests (reports/test/fixture.ts).
steps: 10
seeds: { count: 6, start: 1 }
slo: { latencyMs: 300, errorRate: 0.01, confirmWindowS: 20 }
matrix:
  fault: [pod-kill]
  frequency:
    often: { kind: fixed, intervalS: 100, offsetS: 20 }
    rare: { kind: poisson, meanIntervalS: 100000 }
  policy: [none, heuristic]
gates:
  - heuristic.uptime >= none.uptime
  - paired(heuristic, none).mttr.upper < 0
  - "heuristic.mttr[pod-kill, rare] <= 60"
  - heuristic.cost <= none.cost
`;

export const FIXTURE_RUN = "golden-run";

/** Steps with the SLO broken, per seed pattern (seed 1..3, repeated for 4..6). */
const BROKEN = {
  none: [
    [3, 4, 5],
    [3, 4, 5, 6],
    [3, 4],
  ],
  heuristic: [[3], [3, 4], []],
} as const;

const fault = (time: number, kind: "fault-injected" | "fault-cleared"): Partial<TraceEvent> => ({
  time,
  kind,
  faultId: 0,
  podId: 1,
  detail: "pod-kill pod 1",
});

function oftenTrace(policy: "none" | "heuristic", seed: number) {
  const broken: readonly number[] = BROKEN[policy][(seed - 1) % 3]!;
  const step = (i: number): StepValues => {
    const s: StepValues = { active_faults: i >= 2 && i < 4 ? 1 : 0 };
    if (broken.includes(i)) {
      Object.assign(s, { slo_ok: 0 }, policy === "none" ? { latency_ms: 420 } : { error_rate: 0.05 });
    }
    if (policy === "heuristic" && i === 3) {
      Object.assign(s, { proposed: Action.RestartPod, executed: Action.RestartPod, applied: 1 });
    }
    return s;
  };
  return makeTrace(10, step, [fault(20, "fault-injected"), fault(40, "fault-cleared")]);
}

function rareTrace(policy: "none" | "heuristic") {
  return makeTrace(10, (i) => {
    if (policy !== "heuristic") return {};
    if (i === 8) return { proposed: Action.ScaleUp, executed: Action.ScaleUp, applied: 1 };
    if (i === 9) return { desired_replicas: 4 };
    return {};
  });
}

/** Writes the fixture run into a new store at `path`. */
export async function buildFixtureStore(path: string): Promise<void> {
  const store = await TraceStore.open(path);
  try {
    await store.beginRun(
      makeRunContext({
        runId: FIXTURE_RUN,
        scenarioName: "golden",
        scenarioText: FIXTURE_SCENARIO,
        argv: ["run", "reports/test/golden.yaml"],
        seeds: [1, 2, 3, 4, 5, 6],
        gitSha: "0123456789abcdef0123456789abcdef01234567",
      }),
    );
    for (const policy of ["none", "heuristic"] as const) {
      for (let seed = 1; seed <= 6; seed++) {
        const common = { fault: "pod-kill", policy, seed, confirmWindowS: 20 } as const;
        await store.writeEpisode(FIXTURE_RUN, makeMeta({ ...common, frequency: "often" }), oftenTrace(policy, seed));
        await store.writeEpisode(FIXTURE_RUN, makeMeta({ ...common, frequency: "rare" }), rareTrace(policy));
      }
    }
    await store.finishRun(FIXTURE_RUN, "completed", new Date("2025-01-01T00:01:00Z"));
  } finally {
    await store.close();
  }
}
