/** Simulator parameter files (as `harness calibrate` writes them) and the fault effect sizes they can set. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { faultSpecSchema } from "../harness/core/contract.ts";
import { loadScenario } from "../harness/scenario-file.ts";
import { formatSimParamsFile, parseSimParamsFile } from "./params-file.ts";
import { mean, noop, runEpisode } from "./test-helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "params-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SCENARIO = (sim: string) =>
  `name: p\nseeds: [1]\nsim:\n${sim}\nmatrix:\n  fault: [pod-kill]\n  frequency: { once: { kind: fixed, intervalS: 1000 } }\n  policy: [none]\n`;

describe("simulator parameter files", () => {
  it("round-trip: what is written parses back to the same values", () => {
    const params = { podCapacityRps: 181.5, restartSteps: [6, 6] as [number, number], stressEffect: 0.87 };
    const text = formatSimParamsFile(params, ["fitted by a test"]);
    expect(text.startsWith("# fitted by a test\n")).toBe(true);
    expect(parseSimParamsFile(text)).toEqual({ success: true, params });
  });

  it("refuses timing, unknown keys and bad values, saying which", () => {
    expect(parseSimParamsFile("stepSeconds: 2\n")).toMatchObject({ success: false });
    expect(parseSimParamsFile("podCapacity: 2\n")).toMatchObject({
      success: false,
      message: expect.stringMatching(/podCapacity/),
    });
    expect(parseSimParamsFile("podCapacityRps: -1\n")).toMatchObject({
      success: false,
      message: expect.stringMatching(/podCapacityRps/),
    });
    expect(parseSimParamsFile("- 1\n")).toMatchObject({ success: false, message: expect.stringMatching(/mapping/) });
  });

  it("a scenario's sim.paramsFile replaces the section's values and is inlined into the text that runs", async () => {
    writeFileSync(join(dir, "fit.yaml"), "podCapacityRps: 42\nbaseLatencyMs: 70\n");
    const file = join(dir, "uses.yaml");
    writeFileSync(file, SCENARIO("  podCapacityRps: 250\n  idleCpu: 0.1\n  paramsFile: fit.yaml"));
    const r = await loadScenario(file);
    if (!r.success) throw new Error(r.errors.map((e) => e.message).join("; "));
    expect(r.data.scenario.sim).toMatchObject({ podCapacityRps: 42, baseLatencyMs: 70, idleCpu: 0.1 });
    expect(r.data.text).not.toContain("paramsFile:");
    expect(r.data.text).toMatch(
      /sim\.paramsFile fit\.yaml \(sha256 [0-9a-f]{12}…\) inlined: podCapacityRps, baseLatencyMs/,
    );
  });

  it("a missing or invalid params file is a scenario error at sim.paramsFile's line", async () => {
    const missing = join(dir, "missing.yaml");
    writeFileSync(missing, SCENARIO("  paramsFile: nowhere.yaml"));
    const a = await loadScenario(missing);
    expect(a.success).toBe(false);
    if (!a.success) {
      expect(a.errors[0]).toMatchObject({ path: ["sim", "paramsFile"], line: 4, code: "unreadable" });
      expect(a.errors[0]!.message).toMatch(/Cannot read sim.paramsFile/);
    }
    writeFileSync(join(dir, "bad.yaml"), "episodeSteps: 3\n");
    const badFile = join(dir, "uses-bad.yaml");
    writeFileSync(badFile, SCENARIO("  paramsFile: bad.yaml"));
    const b = await loadScenario(badFile);
    expect(b.success).toBe(false);
    if (!b.success) expect(b.errors[0]!.message).toMatch(/sim.paramsFile bad.yaml: .*episodeSteps/);
  });
});

describe("fault effect sizes", () => {
  const stress = faultSpecSchema.parse({ type: "cpu-stress", load: 0.4, durationS: 2000 });
  const delay = faultSpecSchema.parse({ type: "network-delay", delayMs: 300, durationS: 2000 });
  const late = (params: object, spec: typeof stress) =>
    runEpisode(7, { params, schedule: [{ id: 0, atS: 0, spec, targetKey: 0 }] }, noop, 40).steps.slice(20);

  it("stressEffect scales a cpu-stress's added CPU demand (0: no effect)", () => {
    const none = mean(late({ stressEffect: 0 }, stress).map((s) => s.snapshot.cpu));
    const base = mean(late({}, stress).map((s) => s.snapshot.cpu));
    const half = mean(late({ stressEffect: 0.5 }, stress).map((s) => s.snapshot.cpu));
    // One stressed pod of three: the mean CPU rises by a third of the added demand.
    expect(base - none).toBeCloseTo(0.4 / 3, 2);
    expect(half - none).toBeCloseTo(0.2 / 3, 2);
  });

  it("delayEffect scales a network-delay's added latency", () => {
    const lat = (params: object) => mean(late(params, delay).map((s) => s.snapshot.latencyMs));
    expect(lat({ delayEffect: 2 }) - lat({ delayEffect: 0 })).toBeCloseTo(600, 0);
  });
});
