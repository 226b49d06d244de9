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
import { recordedInputs, recordedLoad, recordedSchedule } from "./replay.ts";
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

      const inputs = await recordedInputs(store, id);
      expect(Array.from(inputs.loadSeries ?? [])).toEqual(Array.from(recorded.trace.columns.load_rps.subarray(0, 90)));
      const replayed = await runPlannedEpisode(scenario, heuristic!, undefined, inputs);
      for (const [name] of STEP_COLUMNS) {
        expect(Array.from(replayed.trace.columns[name].subarray(0, 90)), name).toEqual(
          Array.from(recorded.trace.columns[name].subarray(0, 90)),
        );
      }
      expect(replayed.trace.events).toEqual(recorded.trace.events);

      // Another policy on the recorded schedule: the same faults at the same steps.
      const other = await runPlannedEpisode(scenario, hpa!, undefined, inputs);
      const times = (t: typeof recorded.trace) =>
        t.events
          .filter((e) => e.kind === "fault-injected" || e.kind === "fault-skipped")
          .map((e) => `${e.faultId}@${e.time}`);
      expect(times(other.trace)).toEqual(times(recorded.trace));

      // The load comes from the record, not the seed: planned with seed 8, the replay offers seed 7's load.
      const load = await recordedLoad(store, id);
      const seed8 = await runPlannedEpisode(scenario, { ...heuristic!, seed: 8 }, undefined, inputs);
      const fresh8 = await runPlannedEpisode(scenario, { ...heuristic!, seed: 8 });
      expect(Array.from(seed8.trace.columns.load_rps.subarray(0, 90))).toEqual(Array.from(load!));
      expect(Array.from(fresh8.trace.columns.load_rps.subarray(0, 90))).not.toEqual(Array.from(load!));
    } finally {
      await store.close();
    }
  });
});

const COMPOUND = `
name: replay-compound
steps: 60
seeds: [3]
matrix:
  fault:
    - name: kill-and-stress
      faults: [pod-kill, { type: cpu-stress, load: 0.9, durationS: 120 }]
      inject: all
  frequency:
    twice: { kind: fixed, intervalS: 250, offsetS: 100 }
  policy: [heuristic]
`;

describe("compound injection", () => {
  it("injects every fault of an inject-all cell at the same moment, and the recording replays row for row", async () => {
    const r = parseScenario(COMPOUND, "compound.yaml");
    if (!r.success) throw new Error(JSON.stringify(r.errors));
    const scenario = r.data.scenario;
    const [planned] = expandPlan(scenario);
    const recorded = await runPlannedEpisode(scenario, planned!);
    expect(recorded.status).toBe("completed");
    const injected = recorded.trace.events.filter((e) => e.kind === "fault-injected");
    expect(injected.map((e) => [e.time, e.faultId, e.detail.split(" ")[0]])).toEqual([
      [100, 0, "pod-kill"],
      [100, 1, "cpu-stress"],
      [350, 2, "pod-kill"],
      [350, 3, "cpu-stress"],
    ]);

    const store = await TraceStore.open(join(root, "compound.duckdb"));
    try {
      await store.beginRun(makeRunContext({ runId: "compound" }));
      const id = await store.writeEpisode(
        "compound",
        {
          key: planned!.key,
          fault: "kill-and-stress",
          frequency: "twice",
          policy: "heuristic",
          policyName: "heuristic",
          seed: 3,
          backend: "sim",
          status: "completed",
          error: null,
          steps: 60,
          stepSeconds: 10,
          confirmWindowS: scenario.slo.confirmWindowS,
          sloLatencyMs: scenario.slo.latencyMs,
          sloErrorRate: scenario.slo.errorRate,
          wallMs: 1,
          faultSpecs: null,
        },
        recorded.trace,
      );
      const inputs = await recordedInputs(store, id);
      expect(inputs.schedule.map((f) => [f.atS, f.spec.type])).toEqual([
        [100, "pod-kill"],
        [100, "cpu-stress"],
        [350, "pod-kill"],
        [350, "cpu-stress"],
      ]);
      const replayed = await runPlannedEpisode(scenario, planned!, undefined, inputs);
      for (const [name] of STEP_COLUMNS) {
        expect(Array.from(replayed.trace.columns[name].subarray(0, 60)), name).toEqual(
          Array.from(recorded.trace.columns[name].subarray(0, 60)),
        );
      }
      expect(replayed.trace.events).toEqual(recorded.trace.events);
    } finally {
      await store.close();
    }
  });
});
