/**
 * The held-out generalisation suite (scenarios/generalization.yaml) is held out: its seeds
 * are none that training, the model card's quick evaluation, model selection
 * (rl-validation.yaml), the evaluation matrix or the baselines' tuning use, and none of its
 * cells (deployment, load, step, episode length, fault cell, frequency) is one training or
 * model selection can draw. Checked against every PPO training configuration the project
 * holds: the options' defaults, each committed model card's options, and the YAML configs
 * in policies/ppo/configs/.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { FAULT_TYPES } from "../harness/core/contract.ts";
import { loadScenarioOrThrow, loadScenarioSuite } from "../harness/scenario-file.ts";
import { EVAL_SEED_START } from "../policies/ppo/evaluate.ts";
import { derivedSizes, loadPpoOptions, type PpoOptions, ppoOptionsSchema } from "../policies/ppo/options.ts";
import { trainingSupport } from "../policies/ppo/randomise.ts";
import { TRAINING_SEEDS as TUNING_SEEDS } from "../scripts/tune-baselines.ts";
import type { Scenario } from "./schema.ts";

const root = resolve(import.meta.dirname, "..");
const SUITE = join(root, "scenarios/generalization.yaml");

async function suite(): Promise<Scenario[]> {
  const r = await loadScenarioSuite(SUITE);
  if (!r.success) throw new Error(r.errors.map((e) => `line ${e.line}: ${e.message}`).join("\n"));
  return r.data.map((d) => d.scenario);
}

/** Every training configuration the project holds, by where it comes from. */
function trainingConfigs(): { from: string; o: PpoOptions }[] {
  const out = [{ from: "ppoOptionsSchema defaults", o: ppoOptionsSchema.parse({}) }];
  for (const f of readdirSync(join(root, "models")).filter((f) => f.endsWith(".json"))) {
    const card = JSON.parse(readFileSync(join(root, "models", f), "utf8")) as { training?: { options?: unknown } };
    if (card.training?.options !== undefined) {
      out.push({ from: `models/${f}`, o: ppoOptionsSchema.parse(card.training.options) });
    }
  }
  const dir = join(root, "policies/ppo/configs");
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))) {
      out.push({ from: `policies/ppo/configs/${f}`, o: loadPpoOptions(join(dir, f)) });
    }
  }
  return out;
}

/** Training's seeds: episode k on trainingSeedStart + k; at most one episode per step, plus the first nEnvs. */
function trainingSeedRange(o: PpoOptions): [number, number] {
  const s = derivedSizes(o);
  return [o.trainingSeedStart, o.trainingSeedStart + s.numUpdates * s.rolloutSize + o.nEnvs];
}

describe("scenarios/generalization.yaml", () => {
  it("every document is a valid scenario of its own, with a unique name", async () => {
    const scenarios = await suite();
    expect(scenarios.length).toBeGreaterThanOrEqual(6);
    expect(new Set(scenarios.map((s) => s.name)).size).toBe(scenarios.length);
    for (const s of scenarios) expect(s.backend).toBe("sim");
  });

  it("covers other loads, replica counts, step lengths, episode lengths and compound faults", async () => {
    const scenarios = await suite();
    const rps = new Set(scenarios.map((s) => s.workload.baseRps));
    const maxReplicas = new Set(scenarios.map((s) => s.sim.maxReplicas));
    const steps = new Set(scenarios.map((s) => s.stepSeconds));
    const lengths = new Set(scenarios.map((s) => s.steps));
    expect([...rps].some((r) => r >= 600)).toBe(true);
    expect([...maxReplicas].some((m) => m >= 20)).toBe(true);
    expect([...maxReplicas].some((m) => m <= 4)).toBe(true);
    expect(steps).toEqual(new Set([5, 10, 30]));
    expect([...lengths].some((n) => n > 200)).toBe(true);
    const compound = scenarios.flatMap((s) => s.matrix.fault.filter((f) => f.inject === "all"));
    expect(compound.length).toBeGreaterThanOrEqual(2);
  });

  it("its seeds are disjoint from training, quick evaluation, model selection, evaluation and tuning seeds", async () => {
    const seeds = new Set((await suite()).flatMap((s) => s.seeds));
    const taken: { what: string; has: (seed: number) => boolean }[] = [];
    for (const { from, o } of trainingConfigs()) {
      const [lo, hi] = trainingSeedRange(o);
      taken.push({ what: `training seeds of ${from} (${lo}..${hi - 1})`, has: (x) => x >= lo && x < hi });
    }
    taken.push({ what: `quick evaluation (${EVAL_SEED_START} upward)`, has: (x) => x >= EVAL_SEED_START });
    const tuning = TUNING_SEEDS;
    taken.push({
      what: "baseline tuning",
      has: (x) => x >= tuning.start && x < tuning.start + tuning.count,
    });
    for (const file of ["rl-validation.yaml", "full-matrix.yaml", "quickstart.yaml", "testbed-calibration.yaml"]) {
      const used = new Set((await loadScenarioOrThrow(join(root, "scenarios", file))).scenario.seeds);
      taken.push({ what: file, has: (x) => used.has(x) });
    }
    for (const t of taken) {
      const shared = [...seeds].filter(t.has);
      expect(shared, `generalisation seeds shared with ${t.what}`).toEqual([]);
    }
  });

  it("no cell is one that training can draw", async () => {
    const scenarios = await suite();
    const configs = trainingConfigs();
    let cells = 0;
    for (const s of scenarios) {
      for (const fault of s.matrix.fault) {
        for (const freq of s.matrix.frequency) {
          cells++;
          for (const { from, o } of configs) {
            const reasons = trainingSupport(o).outside({
              sim: s.sim,
              workload: s.workload,
              stepSeconds: s.stepSeconds,
              steps: s.steps,
              guard: s.guard,
              fault,
              frequency: freq.frequency,
            });
            // Outside on more than the frequency: a new fault rate alone is not a new deployment.
            const beyondFrequency = reasons.filter((w) => !w.startsWith("frequency"));
            expect(
              beyondFrequency,
              `${s.name} ${fault.label} ${freq.label} is inside the training of ${from}`,
            ).not.toEqual([]);
          }
        }
      }
    }
    expect(cells).toBeGreaterThan(0);
  });

  it("no cell is one of model selection's (rl-validation.yaml)", async () => {
    const v = (await loadScenarioOrThrow(join(root, "scenarios/rl-validation.yaml"))).scenario;
    const key = (s: Scenario, fault: unknown, freq: unknown) =>
      JSON.stringify([s.sim, s.workload, s.stepSeconds, s.steps, s.guard, fault, freq]);
    const validation = new Set<string>();
    for (const f of v.matrix.fault) {
      for (const q of v.matrix.frequency) validation.add(key(v, { ...f, label: "" }, q.frequency));
    }
    for (const s of await suite()) {
      for (const f of s.matrix.fault) {
        for (const q of s.matrix.frequency) {
          expect(validation.has(key(s, { ...f, label: "" }, q.frequency)), `${s.name} ${f.label} ${q.label}`).toBe(
            false,
          );
        }
      }
    }
  });

  it("the support check itself finds training's own cells inside (it can fail)", () => {
    const o = ppoOptionsSchema.parse({});
    const support = trainingSupport(o);
    const inside = support.outside({
      sim: { initialReplicas: 3, minReplicas: 1, maxReplicas: o.guard.maxReplicas },
      workload: { pattern: "random-walk", baseRps: 150 },
      stepSeconds: 10,
      steps: o.episodeSteps,
      guard: o.guard,
      fault: { label: "cpu-stress", faults: [{ type: "cpu-stress", durationS: 180, load: 0.6 }], inject: "one" },
      frequency: { kind: "poisson", meanIntervalS: 250 },
    });
    expect(inside).toEqual([]);
    const combined = support.outside({
      sim: { initialReplicas: 3, minReplicas: 1, maxReplicas: o.guard.maxReplicas },
      workload: { pattern: "constant", baseRps: 150 },
      stepSeconds: 10,
      steps: o.episodeSteps,
      guard: o.guard,
      fault: {
        label: "any",
        faults: FAULT_TYPES.map((type) => ppoFaultDefaults(type)),
        inject: "one",
      },
      frequency: { kind: "fixed", intervalS: 300 },
    });
    expect(combined).toEqual([]);
  });
});

function ppoFaultDefaults(type: (typeof FAULT_TYPES)[number]) {
  return trainingSupport(ppoOptionsSchema.parse({})).defaultSpec(type);
}
