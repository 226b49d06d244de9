/**
 * One online-learning job, run on a worker thread (updater.ts) so that /predict never waits
 * for it: fine-tune a copy of the served model on the stored transitions (finetune.ts),
 * write it with its card, and evaluate it against the served model on the simulator's
 * validation scenario (scenarios/rl-validation.yaml by default): both models face the same
 * episodes (same cell, same seed: the same faults and load), and the paired differences get
 * the reports' seed-bootstrap intervals (reports/bootstrap.ts). The candidate is "not
 * worse" when the interval's lower bound of its uptime minus the served model's is at least
 * `-marginUptime`; the updater swaps only then.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { runPlannedEpisode } from "../../../harness/episode.ts";
import { expandPlan } from "../../../harness/plan.ts";
import { parseScenario } from "../../../harness/scenario-file.ts";
import { pairedRatio } from "../../../reports/bootstrap.ts";
import { sha256Hex, writeModelCard } from "../../model-card.ts";
import { EXPORT_INPUT, EXPORT_OUTPUTS, exportOnnx, importOnnx } from "../../ppo/onnx-export.ts";
import type { CandidateRecord, Transition } from "../schemas.ts";
import { DEFAULT_FINE_TUNE, type FineTuneOptions, fineTune } from "./finetune.ts";

export const DEFAULT_VALIDATION_SCENARIO = new URL("../../../scenarios/rl-validation.yaml", import.meta.url).pathname;

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

export async function runJob(input: JobInput): Promise<JobResult> {
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
    inputs: [EXPORT_INPUT],
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

type Evaluation = NonNullable<CandidateRecord["evaluation"]>;

/** Runs both models on the same episodes of the validation scenario; paired intervals over seeds. */
export async function evaluatePaired(
  servingFile: string,
  candidateFile: string,
  o: EvaluationOptions,
): Promise<Evaluation> {
  const raw = parseYaml(readFileSync(o.scenario, "utf8")) as Record<string, unknown> & {
    matrix: Record<string, unknown>;
  };
  raw.matrix.policy = [
    { name: "rl", label: "serving", params: { model: servingFile } },
    { name: "rl", label: "candidate", params: { model: candidateFile } },
  ];
  const parsed = parseScenario(stringifyYaml(raw), o.scenario);
  if (!parsed.success) {
    throw new Error(`${o.scenario}: ${parsed.errors.map((e) => e.message).join("; ")}`);
  }
  const scenario = parsed.data.scenario;
  const plan = expandPlan(scenario, o.seeds ? { seeds: o.seeds } : {}).filter(
    (e) =>
      (o.faults === undefined || o.faults.includes(e.fault.label)) &&
      (o.frequencies === undefined || o.frequencies.includes(e.frequency.label)),
  );
  const byKey = new Map<string, { seed: number; serving?: number[]; candidate?: number[] }>();
  for (const planned of plan) {
    const out = await runPlannedEpisode(scenario, planned);
    if (out.status !== "completed") {
      throw new Error(`validation episode ${planned.key} ${out.status}: ${out.error ?? ""}`);
    }
    const c = out.trace.columns;
    let ok = 0;
    let replicas = 0;
    for (let t = 0; t < out.trace.length; t++) {
      ok += c.slo_ok[t]!;
      replicas += c.desired_replicas[t]!;
    }
    const key = `${planned.fault.label}|${planned.frequency.label}|${planned.seed}`;
    const pair = byKey.get(key) ?? { seed: planned.seed };
    pair[planned.policy.label as "serving" | "candidate"] = [ok / out.trace.length, replicas / out.trace.length];
    byKey.set(key, pair);
  }
  const pairs = [...byKey.values()];
  const sample = (arm: "serving" | "candidate") => ({
    clusters: Int32Array.from(pairs, (p) => p.seed),
    num: [Float64Array.from(pairs, (p) => p[arm]![0]!), Float64Array.from(pairs, (p) => p[arm]![1]!)],
    den: [new Float64Array(pairs.length).fill(1), new Float64Array(pairs.length).fill(1)],
  });
  const serving = sample("serving");
  const candidate = sample("candidate");
  const [uptimeDiff, replicasDiff] = pairedRatio(candidate, serving, { resamples: o.resamples ?? 2000, seed: 15 });
  const mean = (xs: Float64Array) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const diff = (d: typeof uptimeDiff) => ({ estimate: d!.estimate, lower: d!.lower, upper: d!.upper, p: d!.p });
  return {
    scenario: o.scenario,
    episodes: pairs.length,
    seeds: [...new Set(pairs.map((p) => p.seed))],
    marginUptime: o.marginUptime,
    uptime: { serving: mean(serving.num[0]!), candidate: mean(candidate.num[0]!), diff: diff(uptimeDiff) },
    replicasMean: { serving: mean(serving.num[1]!), candidate: mean(candidate.num[1]!), diff: diff(replicasDiff) },
  };
}
