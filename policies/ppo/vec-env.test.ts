/**
 * The training distribution honours a named cell's `inject: all` (compound incidents, as a
 * scenario's fault axis writes them), and refuses a malformed cell with the path to it.
 */
import { describe, expect, it } from "vitest";
import { SimEnv } from "../../sim/env.ts";
import { ppoOptionsSchema } from "./options.ts";
import { trainingSupport } from "./randomise.ts";
import { trainingScenarios } from "./vec-env.ts";

const compound = {
  name: "kill-and-stress",
  faults: ["pod-kill", { type: "cpu-stress", load: 0.8, durationS: 60 }],
  inject: "all",
} as const;

/** Times at which each fault was injected over one episode of `config`. */
function injections(config: ReturnType<typeof trainingScenarios>[number]["config"], seed: number): number[][] {
  const env = new SimEnv();
  env.reset(seed, config);
  const byStep: number[][] = [];
  for (;;) {
    const r = env.step(0);
    const at = r.info.events.filter((e) => e.kind === "fault-injected").map((e) => e.faultId);
    if (at.length > 0) byStep.push(at);
    if (r.terminated || r.truncated) return byStep;
  }
}

describe("training fault cells", () => {
  it("a named cell with inject: all injects every one of its faults at the same moment", () => {
    const o = ppoOptionsSchema.parse({
      faults: [compound],
      frequencies: [{ kind: "fixed", intervalS: 300 }],
      workloads: ["constant"],
      episodeSteps: 100,
    });
    const [cell] = trainingScenarios(o);
    expect(cell!.label).toBe("kill-and-stress|fixed-300s|constant");
    expect(cell!.config.inject).toBe("all");
    const steps = injections(cell!.config, 1_000_003);
    // Injections at 300 s, 600 s, 900 s; two faults each, in the same step.
    expect(steps).toHaveLength(3);
    for (const ids of steps) expect(ids).toHaveLength(2);

    // The same cell with inject: one draws one fault per injection.
    const one = trainingScenarios(ppoOptionsSchema.parse({ ...o, faults: [{ ...compound, inject: "one" }] }))[0]!;
    for (const ids of injections(one.config, 1_000_003)) expect(ids).toHaveLength(1);
  });

  it("the named fault types and combined keep drawing one fault per injection", () => {
    const o = ppoOptionsSchema.parse({ faults: ["combined", "pod-kill"], workloads: ["constant"] });
    for (const c of trainingScenarios(o)) expect(c.config.inject).toBe("one");
  });

  it("a scenario cell equal to a named training cell counts as inside what training draws", () => {
    const o = ppoOptionsSchema.parse({ faults: [compound], frequencies: [{ kind: "fixed", intervalS: 300 }] });
    const specs = (o.faults[0] as Exclude<(typeof o.faults)[number], string>).faults;
    const cell = {
      sim: { initialReplicas: 3, minReplicas: 1, maxReplicas: 10 },
      workload: { pattern: "diurnal", baseRps: 150 },
      stepSeconds: 10,
      steps: 200,
      guard: o.guard,
      fault: { label: "kill-and-stress", inject: "all" as const, faults: specs },
      frequency: { kind: "fixed" as const, intervalS: 300 },
    };
    expect(trainingSupport(o).outside(cell)).toEqual([]);
    // Drawn one at a time, the same faults are a cell training never saw.
    expect(trainingSupport(o).outside({ ...cell, fault: { ...cell.fault, inject: "one" } })).toContain(
      "fault cell kill-and-stress",
    );
  });

  it("refuses a cell with an unknown inject mode, naming where", () => {
    const r = ppoOptionsSchema.safeParse({ faults: [{ ...compound, inject: "both" }] });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error!.issues)).toContain("faults");
  });
});
