/**
 * A recorded schedule read back from the store replays the episode exactly: the same
 * policy on the simulator gives the same trace, row for row; another policy faces the
 * same faults at the same times.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateSchedule } from "./core/schedule.ts";
import { runPlannedEpisode } from "./episode.ts";
import { expandPlan } from "./plan.ts";
import { recordedSchedule } from "./replay.ts";
import { parseScenario } from "./scenario-file.ts";
import { TraceStore } from "./store.ts";
import { makeRunContext, tempDir } from "./store-fixtures.ts";
import { STEP_COLUMNS } from "./trace.ts";

const root = tempDir("replay-schedule-");
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TEXT = `
name: replay-schedule
steps: 90
seeds: [7]
matrix:
  fault:
    - name: mixed
      faults: [pod-kill, cpu-stress, memory-leak, network-delay, load-spike]
  frequency:
    busy: { kind: poisson, meanIntervalS: 60 }
  policy: [heuristic, hpa]
`;

describe("recordedSchedule", () => {
  it("reads back the schedule the seed generated, and replaying it gives the recorded trace row for row", async () => {
    const r = parseScenario(TEXT, "replay.yaml");
    if (!r.success) throw new Error(JSON.stringify(r.errors));
    const scenario = r.data.scenario;
    const [heuristic, hpa] = expandPlan(scenario);
    const recorded = await runPlannedEpisode(scenario, heuristic!);
    expect(recorded.status).toBe("completed");

    const store = await TraceStore.open(join(root, "r.duckdb"));
    try {
      await store.beginRun(makeRunContext({ runId: "rec" }));
      const id = await store.writeEpisode(
        "rec",
        {
          key: heuristic!.key,
          fault: "mixed",
          frequency: "busy",
          policy: "heuristic",
          policyName: "heuristic",
          seed: 7,
          backend: "sim",
          status: "completed",
          error: null,
          steps: 90,
          stepSeconds: 10,
          confirmWindowS: scenario.slo.confirmWindowS,
          sloLatencyMs: scenario.slo.latencyMs,
          sloErrorRate: scenario.slo.errorRate,
          wallMs: 1,
          faultSpecs: null,
        },
        recorded.trace,
      );
      await store.flush();
      const schedule = await recordedSchedule(store, id);
      const generated = generateSchedule({
        faults: heuristic!.fault.faults,
        frequency: heuristic!.frequency.frequency,
        episodeSeconds: scenario.durationS,
        seed: 7,
      });
      expect(schedule.length).toBeGreaterThan(5);
      expect(schedule).toEqual(generated);

      const replayed = await runPlannedEpisode(scenario, heuristic!, undefined, schedule);
      for (const [name] of STEP_COLUMNS) {
        expect(Array.from(replayed.trace.columns[name].subarray(0, 90)), name).toEqual(
          Array.from(recorded.trace.columns[name].subarray(0, 90)),
        );
      }
      expect(replayed.trace.events).toEqual(recorded.trace.events);

      // Another policy on the recorded schedule: the same faults at the same steps.
      const other = await runPlannedEpisode(scenario, hpa!, undefined, schedule);
      const times = (t: typeof recorded.trace) =>
        t.events
          .filter((e) => e.kind === "fault-injected" || e.kind === "fault-skipped")
          .map((e) => `${e.faultId}@${e.time}`);
      expect(times(other.trace)).toEqual(times(recorded.trace));
    } finally {
      await store.close();
    }
  });
});
