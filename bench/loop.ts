/**
 * What the controller loop costs on top of the simulator: the same episodes (full-matrix's
 * fault x frequency cells and seeds, the `none` policy so both sides take the same
 * actions) once through `runPlannedEpisode` (observe, encode, decide, guard, execute,
 * record into the trace buffers) and once as bare `SimEnv.step(noop)` calls. One thread,
 * median of the repetitions after a warm-up. Target: loop/direct under 2x.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Action } from "../harness/core/contract.ts";
import { runPlannedEpisode } from "../harness/episode.ts";
import { expandPlan, type PlannedEpisode } from "../harness/plan.ts";
import { parseScenario } from "../harness/scenario-file.ts";
import type { Scenario } from "../scenarios/schema.ts";
import { SimEnv } from "../sim/env.ts";
import { median } from "./stats.ts";

const FULL_MATRIX = fileURLToPath(new URL("../scenarios/full-matrix.yaml", import.meta.url));

async function throughLoop(scenario: Scenario, plan: readonly PlannedEpisode[]): Promise<number> {
  const t0 = performance.now();
  for (const p of plan) {
    const o = await runPlannedEpisode(scenario, p);
    if (o.status !== "completed") throw new Error(`${p.key}: ${o.status} ${o.error ?? ""}`);
  }
  return performance.now() - t0;
}

function direct(scenario: Scenario, plan: readonly PlannedEpisode[]): number {
  const env = new SimEnv();
  const t0 = performance.now();
  for (const p of plan) {
    env.reset(p.seed, {
      params: scenario.sim,
      workload: scenario.workload,
      faults: p.fault.faults,
      frequency: p.frequency.frequency,
    });
    for (let k = 0; k < scenario.steps; k++) {
      const r = env.step(Action.Noop);
      if (r.terminated || r.truncated) break;
    }
  }
  return performance.now() - t0;
}

export async function printLoopBench(repetitions = 5): Promise<void> {
  const parsed = parseScenario(readFileSync(FULL_MATRIX, "utf8"), FULL_MATRIX);
  if (!parsed.success) throw new Error(JSON.stringify(parsed.errors));
  const { scenario } = parsed.data;
  const plan = expandPlan(scenario, { policies: ["none"] });
  const steps = plan.length * scenario.steps;
  await throughLoop(scenario, plan.slice(0, 60));
  direct(scenario, plan.slice(0, 60));
  const loopMs: number[] = [];
  const directMs: number[] = [];
  for (let i = 0; i < repetitions; i++) {
    loopMs.push(await throughLoop(scenario, plan));
    directMs.push(direct(scenario, plan));
  }
  const perStep = (ms: number) => (ms * 1000) / steps;
  const l = median(loopMs);
  const d = median(directMs);
  console.log(`loop: ${plan.length} full-matrix episodes (policy none) x ${scenario.steps} steps, one thread`);
  console.log(
    `  through the loop ${perStep(l).toFixed(2)} us/step   SimEnv.step directly ${perStep(d).toFixed(2)} us/step   ratio ${(l / d).toFixed(2)}x (target < 2x)`,
  );
}
