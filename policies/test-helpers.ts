import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createPodTable, createSnapshot, type PodTable, type Snapshot } from "../harness/core/contract.ts";
import { type EpisodeOutcome, runPlannedEpisode } from "../harness/episode.ts";
import { expandPlan } from "../harness/plan.ts";
import { scenarioSchema } from "../scenarios/schema.ts";
import type { PolicyContext } from "./definition.ts";
import { cardPathFor } from "./model-card.ts";
import { DEFAULT_MODEL, resolveModelPath } from "./rl.ts";

export const testContext: PolicyContext = {
  seed: 1,
  limits: { minReplicas: 1, maxReplicas: 10 },
  stepSeconds: 10,
  slo: { latencyMs: 300, errorRate: 0.01 },
};

/** A steady 3-replica service at 50% CPU, with per-pod rows, overridable field by field. */
export function steadySnapshot(over: Partial<Snapshot> = {}): Snapshot {
  const pods = createPodTable(16);
  pods.count = 3;
  for (let i = 0; i < 3; i++) {
    pods.id[i] = i + 1;
    pods.cpu[i] = 0.5;
    pods.memory[i] = 0.3;
    pods.latencyMs[i] = 50;
  }
  return Object.assign(
    createSnapshot(),
    {
      desiredReplicas: 3,
      readyReplicas: 3,
      pods: 3,
      healthy: 3,
      cpu: 0.5,
      memory: 0.3,
      latencyMs: 50,
      requestRate: 150,
      sinceFailureS: 1000,
      podTable: pods,
    },
    over,
  );
}

export function setPod(
  t: PodTable,
  i: number,
  row: Partial<{ phase: number; cpu: number; memory: number; latencyMs: number; errorRate: number; drained: number }>,
): void {
  if (row.phase !== undefined) t.phase[i] = row.phase;
  if (row.cpu !== undefined) t.cpu[i] = row.cpu;
  if (row.memory !== undefined) t.memory[i] = row.memory;
  if (row.latencyMs !== undefined) t.latencyMs[i] = row.latencyMs;
  if (row.errorRate !== undefined) t.errorRate[i] = row.errorRate;
  if (row.drained !== undefined) t.drained[i] = row.drained;
}

/**
 * One 20-step pod-kill episode of the rl policy with `model` through a scenario on the
 * simulator: what a model of any codec must get through, fed by the loop as in a real run.
 */
export function rlScenarioEpisode(model: string): Promise<EpisodeOutcome> {
  const scenario = scenarioSchema.parse({
    name: "rl-model",
    seeds: [3],
    steps: 20,
    matrix: {
      fault: ["pod-kill"],
      frequency: { f: { kind: "fixed", intervalS: 60 } },
      policy: [{ name: "rl", params: { model } }],
    },
  });
  return runPlannedEpisode(scenario, expandPlan(scenario)[0]!);
}

/**
 * The committed model copied into `dir` as `masked.onnx`, its card saying `actionMask:
 * guard` (and naming the copy): the same network, deciding under the guard's mask.
 */
export function maskedCommittedModel(dir: string): string {
  const file = join(dir, "masked.onnx");
  copyFileSync(resolveModelPath(DEFAULT_MODEL), file);
  const card = JSON.parse(readFileSync(cardPathFor(resolveModelPath(DEFAULT_MODEL)), "utf8"));
  writeFileSync(cardPathFor(file), JSON.stringify({ ...card, file: "masked.onnx", actionMask: "guard" }));
  return file;
}
