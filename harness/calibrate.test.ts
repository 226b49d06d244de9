/**
 * `harness calibrate` on a synthetic target whose true parameters are known (a simulator run
 * with changed parameters: the fit must find them again), and on the committed local-testbed
 * recording (harness/fixtures/replay-local.json).
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseSimParamsFile } from "../sim/params-file.ts";
import { CALIBRATION_SPACE, search, toUnit, toValue } from "./calibrate.ts";
import { calibrate } from "./calibrate-run.ts";
import { runScenario } from "./runner.ts";
import { loadScenario, parseScenario } from "./scenario-file.ts";
import { TraceStore } from "./store.ts";
import { tempDir } from "./store-fixtures.ts";
import { loadRun, readTraceFixture } from "./trace-fixture.ts";

const root = tempDir("calibrate-");
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The true parameters of the synthetic target, and the tolerance the fit must meet. */
const TRUTH = { podCapacityRps: 60, baseLatencyMs: 80, latencyGain: 12, stressEffect: 0.5, restartSteps: [2, 2] };
const TOLERANCE = 0.1;

const SYNTHETIC = `
name: synthetic-target
backend: sim
stepSeconds: 10
steps: 40
seeds: [1, 2]
workload: { pattern: diurnal, baseRps: 120, noise: 0.05, amplitude: 0.5, periodS: 400 }
sim:
  podCapacityRps: ${TRUTH.podCapacityRps}
  baseLatencyMs: ${TRUTH.baseLatencyMs}
  latencyGain: ${TRUTH.latencyGain}
  stressEffect: ${TRUTH.stressEffect}
  restartSteps: [${TRUTH.restartSteps.join(", ")}]
slo: { latencyMs: 300, errorRate: 0.05, confirmWindowS: 30 }
matrix:
  fault:
    - { type: cpu-stress, durationS: 100, load: 0.6 }
    - { type: pod-failure, durationS: 60 }
    - { type: load-spike, durationS: 80, factor: 2 }
  frequency:
    once: { kind: fixed, intervalS: 1000, offsetS: 60 }
  # heuristic's restarts make restartSteps visible (under none a pod-failure's pod comes back
  # when the fault is cleared, whatever the restart time).
  policy: [heuristic]
`;

describe("the search", () => {
  it("maps the unit cube onto each parameter's bounds and back", () => {
    for (const d of CALIBRATION_SPACE) {
      const v = toValue(d, 0.37);
      expect(toUnit(d, v)).toBeCloseTo(d.scale === "steps" ? toUnit(d, v) : 0.37, 9);
      expect(toValue(d, 0)).toEqual(d.scale === "steps" ? [d.lo, d.lo] : d.lo);
      expect(toValue(d, 1)).toEqual(d.scale === "steps" ? [d.hi, d.hi] : d.hi);
    }
  });

  it("finds the minimum of a known bowl, the same way for the same seed, within its budget", async () => {
    const dims = CALIBRATION_SPACE.filter((d) => d.key === "podCapacityRps" || d.key === "smoothing");
    const loss = async (p: Record<string, unknown>) =>
      Math.log((p.podCapacityRps as number) / 123) ** 2 + ((p.smoothing as number) - 0.3) ** 2;
    const a = await search(dims, [0.5, 0.5], loss, { seed: 7, budget: 150 });
    const b = await search(dims, [0.5, 0.5], loss, { seed: 7, budget: 150 });
    expect(a).toEqual(b);
    expect(a.evaluations).toBeLessThanOrEqual(150);
    expect(a.best.podCapacityRps as number).toBeCloseTo(123, -1);
    expect(Math.abs((a.best.smoothing as number) - 0.3)).toBeLessThan(0.01);
    expect(a.bestLoss).toBeLessThan(a.startLoss);
  });
});

describe("harness calibrate", () => {
  it(`recovers a synthetic target's true parameters within ±${100 * TOLERANCE}% from the simulator's defaults`, async () => {
    const db = join(root, "synthetic.duckdb");
    const parsed = parseScenario(SYNTHETIC, "synthetic.yaml");
    if (!parsed.success) throw new Error(parsed.errors.map((e) => e.message).join("; "));
    await runScenario({ loaded: parsed.data, db, jobs: 1 });

    const r = await calibrate({
      db,
      fit: Object.keys(TRUTH),
      from: "defaults",
      holdoutSeeds: [2],
      search: { seed: 1, budget: 600 },
      jobs: 1,
      resamples: 200,
    });
    expect(r.fitSeeds).toEqual([1]);
    expect(r.holdoutSeeds).toEqual([2]);
    expect(r.before.podCapacityRps).toBe(100);
    for (const key of ["podCapacityRps", "baseLatencyMs", "latencyGain", "stressEffect"] as const) {
      const fitted = r.after[key] as number;
      expect(Math.abs(fitted / TRUTH[key] - 1), `${key}: fitted ${fitted}, true ${TRUTH[key]}`).toBeLessThanOrEqual(
        TOLERANCE,
      );
    }
    expect(r.after.restartSteps).toEqual(TRUTH.restartSteps);
    // Far better than the defaults, on the seeds it was fitted on and on the held-out one.
    expect(r.loss.fitAfter).toBeLessThan(r.loss.fitBefore / 10);
    expect(r.loss.holdoutAfter).toBeLessThan(r.loss.holdoutBefore / 10);
    // The fault table compares the held-out seed: the calibrated simulator is the target itself.
    expect(r.faults.map((f) => f.fault).sort()).toEqual(["cpu-stress", "load-spike", "pod-failure"]);
    for (const f of r.faults) {
      expect(f.after.uptime.estimate).toBeCloseTo(f.real.uptime.estimate, 1);
    }
    expect(r.markdown).toContain("## Fit error per series");
  }, 600_000);

  it("fits the committed local-testbed recording: lower loss, a params file a scenario loads", async () => {
    const db = join(root, "local.duckdb");
    const store = await TraceStore.open(db);
    try {
      await loadRun(store, readTraceFixture(join(import.meta.dirname, "fixtures", "replay-local.json")));
    } finally {
      await store.close();
    }
    const r = await calibrate({ db, search: { seed: 3, budget: 60 }, jobs: 1, resamples: 200 });
    expect(r.backend).toBe("local");
    expect(r.episodes).toEqual({ fit: 1, holdout: 0 });
    expect(r.loss.fitAfter).toBeLessThan(r.loss.fitBefore);
    expect(r.notes.join(" ")).toContain("nothing is held out");
    expect(r.faults).toHaveLength(1);
    expect(r.faults[0]!.verdict).not.toBe("");

    // The params file round-trips, and a scenario that names it runs with its values.
    const parsed = parseSimParamsFile(r.paramsFile);
    expect(parsed.success && parsed.params).toEqual(r.after);
    const file = join(root, "fitted.yaml");
    writeFileSync(file, r.paramsFile);
    const scenarioFile = join(root, "uses-fit.yaml");
    writeFileSync(
      scenarioFile,
      `name: uses-fit\nseeds: [1]\nsim:\n  podCapacityRps: 1\n  paramsFile: fitted.yaml\nmatrix:\n  fault: [pod-kill]\n  frequency: { once: { kind: fixed, intervalS: 1000 } }\n  policy: [none]\n`,
    );
    const loaded = await loadScenario(scenarioFile);
    if (!loaded.success) throw new Error(loaded.errors.map((e) => e.message).join("; "));
    expect(loaded.data.scenario.sim.podCapacityRps).toBe(r.after.podCapacityRps);
    expect(loaded.data.scenario.sim.restartSteps).toEqual(r.after.restartSteps);
    expect(loaded.data.text).not.toContain("paramsFile:");
    expect(readFileSync(scenarioFile, "utf8")).toContain("paramsFile: fitted.yaml");
  }, 600_000);
});
