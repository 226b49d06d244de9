/**
 * A runner worker thread: runs a batch of planned episodes and hands their traces back
 * without copying (the columns' buffers are transferred). The scenario is parsed once per
 * worker and cached by its hash; the plan is expanded from it exactly as the main thread
 * did, so an index names the same episode on both sides.
 */
import { Piscina } from "piscina";
import type { Scenario } from "../scenarios/schema.ts";
import { type EpisodeOutcome, type RecordedInputs, runPlannedEpisode } from "./episode.ts";
import { expandPlan, type PlannedEpisode, type PlanOptions } from "./plan.ts";
import { parseScenario } from "./scenario-file.ts";
import { traceTransferList } from "./trace.ts";

export interface WorkerTask {
  readonly scenarioText: string;
  readonly fileName: string;
  readonly scenarioSha256: string;
  readonly planOptions: PlanOptions;
  /** Indices into the full plan. */
  readonly indices: readonly number[];
  /** A replay's recorded faults and load, by plan index (runner.ts `RunOptions.recorded`). */
  readonly recorded?: Readonly<Record<number, RecordedInputs>>;
}

export interface WorkerResult {
  readonly outcomes: EpisodeOutcome[];
}

let cached: { sha: string; scenario: Scenario; plan: PlannedEpisode[] } | null = null;

function planFor(task: WorkerTask): { scenario: Scenario; plan: PlannedEpisode[] } {
  if (cached?.sha !== task.scenarioSha256) {
    const parsed = parseScenario(task.scenarioText, task.fileName);
    if (!parsed.success) throw new Error(`${task.fileName}: invalid scenario in worker`);
    const scenario = parsed.data.scenario;
    cached = { sha: task.scenarioSha256, scenario, plan: expandPlan(scenario, task.planOptions) };
  }
  return cached;
}

export default async function runBatch(task: WorkerTask): Promise<WorkerResult> {
  const { scenario, plan } = planFor(task);
  const outcomes: EpisodeOutcome[] = [];
  for (const i of task.indices) {
    outcomes.push(await runPlannedEpisode(scenario, plan[i]!, undefined, task.recorded?.[i]));
  }
  const result: WorkerResult = { outcomes };
  const transfer = outcomes.flatMap((o) => traceTransferList(o.trace));
  // Piscina's movable protocol: post `result` with the column buffers transferred, not cloned.
  const movable = { [Piscina.transferableSymbol]: transfer, [Piscina.valueSymbol]: result };
  return Piscina.move(movable as unknown as ArrayBuffer) as unknown as WorkerResult;
}
