/**
 * `harness train`: trains PPO on the simulator and writes the model (runs/models/<run id>.onnx
 * unless `--out` says otherwise) with its model card. An existing model file, such as the
 * committed `models/ppo-obs-v1.onnx`, is replaced only with `--overwrite`, and that is
 * checked before training starts. A yargs `CommandModule`, registered by one line in harness/cli.ts.
 *
 *   harness train                                  # the documented defaults (npm run train)
 *   harness train --config ppo.yaml --seed 7       # a YAML file of options, flags on top
 *   harness train --total-timesteps 50000 --n-envs 1 --metrics-port 9400
 *   harness train --resume runs/checkpoints/<run>/update-00010.json
 *
 * Every option of `ppoOptionsSchema` has a flag here or an explicit `null` (YAML only), in
 * a table typed from the options' keys, so a new option cannot be forgotten. Defaults live
 * in the schema alone (yargs gets none), which is also how `--resume` knows what was given.
 *
 * Exit codes: 0 done; 1 failed; 2 invalid options; 130 interrupted (Ctrl-C): the state at
 * the last finished update is checkpointed, and `--resume` continues from it.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { SingleBar } from "cli-progress";
import type { Argv, CommandModule, Options } from "yargs";
import { sha256Hex, writeModelCard } from "../policies/model-card.ts";
import { checkpointPath, loadCheckpoint, saveCheckpoint } from "../policies/ppo/checkpoint.ts";
import { quickEvaluate } from "../policies/ppo/evaluate.ts";
import { TrainingMetrics } from "../policies/ppo/metrics.ts";
import { ActorCritic } from "../policies/ppo/mlp.ts";
import { RunningMeanStd } from "../policies/ppo/obs-norm.ts";
import { EXPORT_OUTPUTS, exportInputFor, exportOnnx } from "../policies/ppo/onnx-export.ts";
import {
  derivedSizes,
  loadPpoOptions,
  type PpoOptions,
  type PpoOptionsInput,
  ppoOptionsSchema,
} from "../policies/ppo/options.ts";
import { createEngine, mlpSpecFor, newRunId, PpoTrainer, train, type UpdateMetrics } from "../policies/ppo/train.ts";
import { codecNames } from "./core/codecs.ts";
import { ACTION_MASKS } from "./core/contract.ts";
import { errorCode, HarnessError } from "./core/errors.ts";
import { gitRevision } from "./provenance.ts";
import { TrainingStore } from "./store-training.ts";

/** A flag per option, or null where the option is set in a YAML file only. */
const FLAGS: { readonly [K in keyof PpoOptions]: Options | null } = {
  seed: { type: "number" },
  totalTimesteps: { type: "number" },
  engine: { type: "string", choices: ["js", "tfjs"] },
  threads: { type: "number" },
  nEnvs: { type: "number" },
  nSteps: { type: "number" },
  batchSize: { type: "number" },
  nEpochs: { type: "number" },
  learningRate: { type: "number" },
  annealLr: { type: "boolean" },
  gamma: { type: "number" },
  gaeLambda: { type: "number" },
  clipCoef: { type: "number" },
  entCoef: { type: "number" },
  vfCoef: { type: "number" },
  maxGradNorm: { type: "number" },
  normAdv: { type: "boolean" },
  targetKl: { type: "number" },
  adamEps: { type: "number" },
  // A list of numbers: yargs shows [array]; zod checks each is a positive integer.
  hidden: { type: "array", coerce: (xs: unknown[]) => xs.map(Number) } as Options,
  normObs: { type: "boolean" },
  obsClip: { type: "number" },
  codec: { type: "string", choices: codecNames() },
  reward: { type: "string" },
  faults: { type: "array", string: true } as Options,
  frequencies: null,
  workloads: { type: "array", string: true } as Options,
  episodeSteps: { type: "number" },
  trainingSeedStart: { type: "number" },
  randomise: null,
  guard: null,
  actionMask: { type: "string", choices: [...ACTION_MASKS] },
  slo: null,
  out: { type: "string" },
  overwrite: { type: "boolean" },
  checkpointEvery: { type: "number" },
  checkpointDir: { type: "string" },
  db: { type: "string" },
  metricsPort: { type: "number" },
  metricsHost: { type: "string" },
  progress: { type: "boolean" },
};

/** Options a resumed run may change: where things go and how long it runs, not how it learns. */
const RESUMABLE: readonly (keyof PpoOptions)[] = [
  "totalTimesteps",
  "threads",
  "out",
  "overwrite",
  "checkpointEvery",
  "checkpointDir",
  "db",
  "metricsPort",
  "metricsHost",
  "progress",
];

const DEFAULTS = ppoOptionsSchema.parse({});

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function describe(key: keyof PpoOptions): string {
  const def = (DEFAULTS as Record<string, unknown>)[key];
  // As typed on the command line: `--hidden 64 64`, not a JSON array.
  const shown = Array.isArray(def) ? def.join(" ") : JSON.stringify(def);
  return `${ppoOptionsSchema.shape[key].description ?? ""} [default: ${shown}]`;
}

export interface TrainArgs {
  readonly config?: string;
  readonly resume?: string;
  readonly [key: string]: unknown;
}

/** Options from the flags that were given (camelCase keys), nothing else. */
function givenOptions(argv: Record<string, unknown>): PpoOptionsInput {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(FLAGS) as (keyof PpoOptions)[]) {
    if (FLAGS[key] !== null && argv[key] !== undefined) out[key] = argv[key];
  }
  // `--db none` / `--metrics-port` absent: explicit null for the db.
  if (out.db === "none" || out.db === "") out.db = null;
  return out as PpoOptionsInput;
}

/** A bad flag or option value: exit code 2. */
export class TrainUsageError extends HarnessError {
  override name = "TrainUsageError";
  constructor(message: string) {
    super("usage", message);
  }
}

export interface RunTrainingInput {
  /** Options (resolved), or the checkpoint to resume (its options, with `overrides` of RESUMABLE keys). */
  readonly options?: PpoOptions;
  readonly resume?: string;
  readonly overrides?: PpoOptionsInput;
  readonly argv?: readonly string[];
  readonly signal?: AbortSignal;
  /** Progress and summary lines (stderr by default). */
  readonly log?: (line: string) => void;
  /** Called after each update (tests). */
  readonly onUpdate?: (m: UpdateMetrics) => void;
  /** Skip the held-out quick evaluation in the card (tests). @default false */
  readonly skipEvaluation?: boolean;
}

export interface RunTrainingResult {
  readonly trainer: PpoTrainer;
  readonly status: "completed" | "interrupted";
  readonly modelPath: string | null;
  readonly cardPath: string | null;
  readonly lastCheckpoint: string | null;
  readonly curve: readonly UpdateMetrics[];
}

/** Options for a resumed run: the checkpoint's, with only RESUMABLE keys changed. */
export function resumeOptions(saved: PpoOptions, overrides: PpoOptionsInput): PpoOptions {
  const bad = Object.keys(overrides).filter(
    (k) =>
      !RESUMABLE.includes(k as keyof PpoOptions) &&
      JSON.stringify((overrides as Record<string, unknown>)[k]) !==
        JSON.stringify((saved as Record<string, unknown>)[k]),
  );
  if (bad.length > 0) {
    throw new TrainUsageError(
      `Cannot change ${bad.map((k) => `\`${k}\``).join(", ")} when resuming: the run continues with the checkpoint's options (only ${RESUMABLE.join(", ")} may change)`,
    );
  }
  return ppoOptionsSchema.parse({ ...saved, ...overrides });
}

/** Trains (or resumes), reporting to the store, /metrics and the progress bar; exports the model when done. */
export async function runTraining(input: RunTrainingInput): Promise<RunTrainingResult> {
  const log = input.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const saved = input.resume === undefined ? null : loadCheckpoint(input.resume);
  let o: PpoOptions;
  if (saved !== null) o = resumeOptions(saved.options, input.overrides ?? {});
  else o = input.options ?? ppoOptionsSchema.parse(input.overrides ?? {});

  // Before hours of training, not after: the model must have somewhere to go.
  refuseOverwrite(o);

  // The js engine is the default; tfjs (tfjs-node when installed, else wasm) on request.
  const { engine, tfBackend } = await createEngine(o);
  log(
    o.engine === "tfjs"
      ? `train: engine tfjs, backend ${tfBackend}`
      : `train: engine js on ${o.threads} thread${o.threads === 1 ? "" : "s"} (hand-written forward/backward, float32; tested against tfjs)`,
  );

  const trainer = new PpoTrainer(o, engine, saved?.runId ?? newRunId(o.seed));
  if (saved !== null) {
    trainer.restore(saved);
    log(`train: resumed ${saved.runId} at update ${saved.update} (${saved.globalStep} steps) from ${input.resume}`);
  }
  const sizes = derivedSizes(o);
  log(
    `train: run ${trainer.runId}, seed ${o.seed}, ${sizes.numUpdates} updates x ${sizes.rolloutSize} steps (${o.nEnvs} envs x ${o.nSteps}), reward ${o.reward}`,
  );

  const store = o.db === null ? null : await TrainingStore.open(o.db);
  const metrics = new TrainingMetrics(trainer.runId);
  if (o.metricsPort !== null) {
    const port = await metrics.listen(o.metricsPort, o.metricsHost);
    const host = o.metricsHost.includes(":") ? `[${o.metricsHost}]` : o.metricsHost;
    log(`train: serving /metrics on http://${host}:${port}/metrics`);
  }
  const bar =
    o.progress && process.stderr.isTTY
      ? new SingleBar({
          format: "train |{bar}| {percentage}% | {value}/{total} steps | {sps} steps/s | return {ret} | SLO {slo}",
          hideCursor: true,
        })
      : null;
  const curve: UpdateMetrics[] = [];
  const ck = { path: null as string | null, update: -1 };
  const checkpoint = () => {
    ck.path = saveCheckpoint(checkpointPath(o.checkpointDir, trainer.runId, trainer.update), trainer.state());
    ck.update = trainer.update;
  };
  let status: "completed" | "interrupted" = "completed";
  try {
    await store?.beginRun({
      runId: trainer.runId,
      algorithm: "PPO",
      seed: o.seed,
      totalTimesteps: o.totalTimesteps,
      engine: o.engine,
      tfBackend,
      options: o,
      gitSha: gitRevision(),
      argv: input.argv ?? process.argv.slice(2),
      startedAt: new Date(),
    });
    bar?.start(sizes.numUpdates * sizes.rolloutSize, trainer.globalStep, { sps: "-", ret: "-", slo: "-" });
    await train(trainer, {
      signal: input.signal,
      onUpdate: async (m) => {
        curve.push(m);
        metrics.record(m);
        await store?.writeUpdate(trainer.runId, m);
        if (o.checkpointEvery > 0 && m.update % o.checkpointEvery === 0) checkpoint();
        input.onUpdate?.(m);
        const line = {
          sps: Math.round(m.stepsPerS),
          ret: m.epRewardMean === null ? "-" : m.epRewardMean.toFixed(1),
          slo: `${(100 * m.sloHeldShare).toFixed(1)}%`,
        };
        if (bar !== null) bar.update(m.globalStep, line);
        else if (o.progress) {
          log(
            `update ${m.update}/${sizes.numUpdates}: ${m.globalStep} steps, ${line.sps} steps/s, return ${line.ret}, SLO held ${line.slo}, kl ${m.approxKl.toFixed(4)}, clip ${m.clipFrac.toFixed(3)}`,
          );
        }
      },
    });
    bar?.stop();
    if (trainer.update < sizes.numUpdates) status = "interrupted";
    if (ck.update !== trainer.update) checkpoint();
    const lastCheckpoint = ck.path;
    log(`train: checkpoint ${lastCheckpoint}`);
    if (status === "interrupted") {
      await store?.finishRun(trainer.runId, "interrupted");
      log(`train: interrupted at update ${trainer.update}; continue with --resume ${lastCheckpoint}`);
      return { trainer, status, modelPath: null, cardPath: null, lastCheckpoint, curve };
    }
    const { modelPath, cardPath, sha256 } = writeModel(trainer, input.skipEvaluation === true, log);
    await store?.finishRun(trainer.runId, "completed", { path: modelPath, sha256 });
    log(`train: wrote ${modelPath} and ${cardPath}`);
    return { trainer, status, modelPath, cardPath, lastCheckpoint, curve };
  } catch (err) {
    bar?.stop();
    await store?.finishRun(trainer.runId, "failed").catch(() => {});
    throw err;
  } finally {
    await trainer.close();
    await metrics.close();
    await store?.close();
  }
}

/** Where the model goes: `out`, else runs/models/<run id>.onnx. */
export function modelPathFor(o: PpoOptions, runId: string): string {
  return resolve(o.out ?? join("runs", "models", `${runId}.onnx`));
}

/** Refuses to replace an existing model file unless `overwrite` is set. */
function refuseOverwrite(o: PpoOptions): void {
  if (o.out !== null && !o.overwrite && existsSync(o.out)) {
    throw new TrainUsageError(
      `${resolve(o.out)} exists; pass --overwrite to replace it (and its card), or --out another file (the default, runs/models/<run id>.onnx, is always new)`,
    );
  }
}

/** Exports the trained network to ONNX and writes its model card beside it. */
export function writeModel(
  trainer: PpoTrainer,
  skipEvaluation: boolean,
  log: (line: string) => void = () => {},
): { modelPath: string; cardPath: string; sha256: string } {
  const o = trainer.o;
  const spec = mlpSpecFor(o);
  const obsNorm = trainer.obsNorm;
  const bytes = exportOnnx({
    spec,
    params: trainer.net.params,
    obsNorm,
    obsClip: o.obsClip,
    codec: o.codec,
    // Nothing time-dependent (the run id is on the card), so a rerun writes the same bytes.
    metadata: { seed: String(o.seed), steps: String(trainer.globalStep) },
  });
  refuseOverwrite(o);
  const modelPath = modelPathFor(o, trainer.runId);
  mkdirSync(dirname(modelPath), { recursive: true });
  writeFileSync(modelPath, bytes);
  let evaluation: Record<string, unknown> = {
    harness:
      "Evaluated with `harness run scenarios/full-matrix.yaml --report` (policy rl); results in README.md, Evaluation.",
  };
  if (!skipEvaluation) {
    const params = new ActorCritic(spec, 1, Float32Array.from(trainer.net.params)).params;
    const norm = obsNorm === null ? null : RunningMeanStd.fromJSON(obsNorm.toJSON());
    const quick = quickEvaluate(o, params, norm);
    evaluation = { ...evaluation, quick };
    for (const r of quick.rows) {
      log(
        `eval ${r.policy}: uptime ${(100 * r.uptime).toFixed(1)}%, replicas ${r.replicasMean.toFixed(2)}, recovery ${r.recoveryTimeMeanS?.toFixed(0) ?? "-"} s, actions/episode ${r.actionsPerEpisode.toFixed(1)} (${quick.seeds})`,
      );
    }
  }
  const state = trainer.state();
  const { path: cardPath } = writeModelCard(modelPath, {
    description: `PPO actor-critic (${o.hidden.join("x")} tanh) over ${o.codec}, trained on the simulator with the \`${o.reward}\` reward through the guard`,
    codec: o.codec,
    actionMask: o.actionMask,
    inputs: [exportInputFor(o.codec)],
    outputs: [...EXPORT_OUTPUTS],
    training: {
      algorithm: "PPO (clipped surrogate, GAE)",
      runId: trainer.runId,
      updates: trainer.update,
      trainingSeeds: `${o.trainingSeedStart}..${o.trainingSeedStart + state.envs.episodeCounter - 1}`,
      command: `harness ${process.argv.slice(2).join(" ")}`,
      options: o,
    },
    seed: o.seed,
    steps: trainer.globalStep,
    wallTimeS: Math.round(state.wallTimeS * 10) / 10,
    evaluation,
    createdAt: new Date().toISOString(),
  });
  return { modelPath, cardPath, sha256: sha256Hex(readFileSync(modelPath)) };
}

/** The yargs command: `harness train [options]`. */
export const trainCommand: CommandModule<object, TrainArgs> = {
  command: "train",
  describe: "Train the PPO policy on the simulator and export it to ONNX (runs/models/<run id>.onnx + card)",
  builder: (y: Argv) => {
    let b = y
      .option("config", { type: "string", describe: "YAML file of PPO options (keys as the flags, camelCase)" })
      .option("resume", {
        type: "string",
        describe: `Continue from a checkpoint, with its options; only ${RESUMABLE.map(kebab)
          .map((k) => `--${k}`)
          .join(", ")} may change`,
      });
    for (const key of Object.keys(FLAGS) as (keyof PpoOptions)[]) {
      const flag = FLAGS[key];
      if (flag === null) continue;
      b = b.option(kebab(key), { ...flag, describe: describe(key) });
    }
    return b
      .example("$0 train", "train with the documented defaults (what `npm run train` runs) into runs/models/")
      .example("$0 train --total-timesteps 20000 --n-envs 1 --db none", "a short run, no trace store")
      .example("$0 train --out models/ppo-obs-v1.onnx --overwrite", "replace the committed model")
      .example(
        "$0 train --resume runs/checkpoints/<run>/update-00010.json",
        "continue an interrupted run",
      ) as Argv<TrainArgs>;
  },
  handler: async (argv) => {
    const controller = new AbortController();
    const onSigint = () => {
      if (controller.signal.aborted) process.exit(130);
      process.stderr.write("\ntrain: interrupted, stopping after this update (Ctrl-C again to quit now)\n");
      controller.abort();
    };
    process.on("SIGINT", onSigint);
    try {
      const overrides = givenOptions(argv as Record<string, unknown>);
      let result: RunTrainingResult;
      try {
        if (argv.resume !== undefined) {
          if (argv.config !== undefined) throw new TrainUsageError("Expected --config or --resume, got both");
          result = await runTraining({ resume: argv.resume, overrides, signal: controller.signal });
        } else {
          const options = loadPpoOptions(argv.config ?? null, overrides);
          result = await runTraining({ options, signal: controller.signal });
        }
      } catch (err) {
        if (errorCode(err) === "usage" || errorCode(err) === "ppo_options_invalid") {
          process.stderr.write(`${(err as Error).message}\n`);
          process.exitCode = 2;
          return;
        }
        throw err;
      }
      if (result.status === "interrupted") process.exitCode = 130;
    } finally {
      process.off("SIGINT", onSigint);
    }
  },
};
