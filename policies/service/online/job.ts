/**
 * One online-learning job, run on a worker thread (updater.ts) so that /predict never waits
 * for it: fine-tune a copy of the served model on the stored transitions (finetune.ts),
 * write it with its card, and evaluate it against the served model on the simulator's
 * validation scenario (scenarios/rl-validation.yaml by default): both models face the same
 * episodes (same cell, same seed: the same faults and load), and the paired differences get
 * the reports' seed-bootstrap intervals (reports/bootstrap.ts). The candidate is "not
 * worse" when the interval's lower bound of its uptime minus the served model's is at least
 * `-marginUptime`; the updater swaps only then. The evaluation itself is passed in
 * ({@link PairedEvaluator}): it runs the harness's loop, a floor above this one.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { DEFAULT_CODEC } from "../../../harness/core/codecs.ts";
import { sha256Hex, writeModelCard } from "../../model-card.ts";
import { EXPORT_OUTPUTS, exportInputFor, exportOnnx, importOnnx } from "../../ppo/onnx-export.ts";
import type { CandidateRecord, Transition } from "../schemas.ts";
import { DEFAULT_FINE_TUNE, type FineTuneOptions, fineTune } from "./finetune.ts";

export const DEFAULT_VALIDATION_SCENARIO = new URL("../../../scenarios/rl-validation.yaml", import.meta.url).pathname;

export type Evaluation = NonNullable<CandidateRecord["evaluation"]>;

/**
 * Runs the served model and the candidate on the same episodes of `options.scenario` and
 * returns paired differences with seed-bootstrap intervals. It needs the controller loop and
 * the reports' bootstrap, which sit above policies/, so the worker entry passes it in
 * (harness/agent-validation.ts).
 */
export type PairedEvaluator = (
  servingFile: string,
  candidateFile: string,
  options: EvaluationOptions,
) => Promise<Evaluation>;

export interface EvaluationOptions {
  /** Scenario file whose matrix (faults x frequencies x seeds) the two models are run on. */
  readonly scenario: string;
  /** Only these fault labels of its matrix. @default all */
  readonly faults?: readonly string[];
  /** Only these frequency labels. @default all */
  readonly frequencies?: readonly string[];
  /** Only these seeds. @default the scenario's */
  readonly seeds?: readonly number[];
  /** Uptime the candidate may lose (lower interval bound) and still count as not worse. @default 0.005 */
  readonly marginUptime: number;
  /** Bootstrap resamples. @default 2000 */
  readonly resamples?: number;
}

export interface JobInput {
  readonly id: number;
  readonly servingFile: string;
  readonly transitions: readonly Transition[];
  readonly modelsDir: string;
  readonly fineTune?: Partial<FineTuneOptions>;
  readonly evaluation: EvaluationOptions;
}

export type JobResult = Omit<CandidateRecord, "kind" | "at">;

export async function runJob(input: JobInput, evaluatePaired: PairedEvaluator): Promise<JobResult> {
  const servingBytes = readFileSync(input.servingFile);
  const parent = { sha256: sha256Hex(servingBytes), file: input.servingFile };
  const base = (() => {
    try {
      return importOnnx(servingBytes);
    } catch (err) {
      return err as Error;
    }
  })();
  if (base instanceof Error) {
    return {
      id: input.id,
      parent,
      candidate: null,
      transitions: input.transitions.length,
      fineTune: null,
      evaluation: null,
      decision: "failed",
      reason: `the served model cannot be fine-tuned here (not a PPO export of this project): ${base.message}`,
    };
  }
  const options = { ...DEFAULT_FINE_TUNE, ...input.fineTune };
  const started = performance.now();
  const tuned = fineTune(base, input.transitions, options);
  const file = join(input.modelsDir, `candidate-${String(input.id).padStart(4, "0")}.onnx`);
  writeFileSync(
    file,
    exportOnnx({
      ...base,
      params: tuned.params,
      metadata: { parent: parent.sha256, candidate: String(input.id) },
      docString: `Fine-tuned online from ${basename(input.servingFile)} on ${input.transitions.length} transitions`,
    }),
  );
  const fineTuneInfo = { ...options, ...tuned.stats, wallTimeS: (performance.now() - started) / 1000 };
  const { card } = writeModelCard(file, {
    description: `Online fine-tune #${input.id} of ${parent.sha256.slice(0, 12)} (PPO on recorded transitions)`,
    // The candidate reads what the served model reads (its export names its codec).
    codec: base.codec ?? DEFAULT_CODEC,
    inputs: [exportInputFor(base.codec)],
    outputs: [...EXPORT_OUTPUTS],
    training: { algorithm: "PPO fine-tune on recorded transitions", parent, ...fineTuneInfo },
    seed: options.seed,
    steps: input.transitions.length,
    wallTimeS: fineTuneInfo.wallTimeS,
    evaluation: {},
    createdAt: new Date().toISOString(),
  });
  const candidate = { sha256: card.sha256, file };
  const evaluation = await evaluatePaired(input.servingFile, file, input.evaluation);
  const notWorse = evaluation.uptime.diff.lower !== null && evaluation.uptime.diff.lower >= -evaluation.marginUptime;
  const interval = `uptime difference ${fmt(evaluation.uptime.diff.estimate)} [${fmt(evaluation.uptime.diff.lower)}, ${fmt(evaluation.uptime.diff.upper)}] over ${evaluation.episodes} paired episodes`;
  return {
    id: input.id,
    parent,
    candidate,
    transitions: input.transitions.length,
    fineTune: fineTuneInfo,
    evaluation,
    decision: notWorse ? "promoted" : "rejected",
    reason: notWorse
      ? `not worse: ${interval}; lower bound >= ${-evaluation.marginUptime}`
      : evaluation.uptime.diff.lower === null
        ? `no interval (${evaluation.seeds.length} seed(s); 2 or more needed): ${interval}`
        : `not shown to be not worse: ${interval}; lower bound < ${-evaluation.marginUptime}`,
  };
}

const fmt = (x: number | null) => (x === null ? "n/a" : x.toFixed(4));
