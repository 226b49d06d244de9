/**
 * PPO's one options object (cleanrl's `Args`): every knob of training, with its default
 * and what it means, in a zod schema that is the only place defaults live. `harness train`
 * flags and a YAML file (`--config`) override it; the model card copies it in full.
 *
 * Defaults are the common PPO defaults (Stable-Baselines3 `PPO`, cleanrl `ppo.py`), except
 * where this task says otherwise (noted per field).
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { codecNames, DEFAULT_CODEC } from "../../harness/core/codecs.ts";
import { ACTION_MASKS, FAULT_TYPES, faultSpecSchema } from "../../harness/core/contract.ts";
import { HarnessError } from "../../harness/core/errors.ts";
import { guardLimitsSchema } from "../../harness/core/guard.ts";
import { frequencySchema, INJECT_MODES } from "../../harness/core/schedule.ts";
import { WORKLOAD_PATTERNS } from "../../sim/params.ts";
import { REWARD_NAMES } from "../../sim/reward.ts";
// Registers the codecs: training may use any of them.
import "../codecs.ts";
import { randomiseSchema } from "./randomise.ts";

/** Training episodes use seeds from here upward; evaluation scenarios use small seeds (1..20). */
export const TRAINING_SEED_START = 1_000_000;

/** Fault cells of the training distribution: each type alone, or `combined` (one of all six per injection). */
export const TRAINING_FAULTS = [...FAULT_TYPES, "combined"] as const;

/**
 * A named training cell, as a scenario's fault axis writes one: its faults (type names or
 * full specs) and how an injection uses them, `one` drawn per injection or `all` at the same
 * moment (a compound incident, `inject: all`), so an agent can be trained on the compound
 * incidents it is evaluated on.
 */
const trainingCellSchema = z
  .object({
    name: z.string().min(1).describe("Label of the cell (training metrics, model card)."),
    faults: z
      .array(
        z.union([
          z
            .enum(FAULT_TYPES)
            .transform((type) => ({ type }))
            .pipe(faultSpecSchema),
          faultSpecSchema,
        ]),
      )
      .min(1)
      .describe("The cell's faults: fault types or full specs."),
    inject: z
      .enum(INJECT_MODES)
      .default("one")
      .describe("one: each injection draws one of the faults; all: each injection injects every one at once."),
  })
  .strict();
export type TrainingFault = (typeof TRAINING_FAULTS)[number] | z.output<typeof trainingCellSchema>;

const frequencyListSchema = z.array(frequencySchema).min(1);

export const ppoOptionsSchema = z
  .object({
    // --- experiment -----------------------------------------------------------
    seed: z
      .number()
      .int()
      .min(0)
      .default(1)
      .describe("Seeds weight init, action sampling and minibatch shuffling: same seed, same curve."),
    totalTimesteps: z
      .number()
      .int()
      .positive()
      .default(1_000_000)
      .describe("Environment steps to train for (all envs together), rounded up to whole rollouts."),
    engine: z
      .enum(["js", "tfjs"])
      .default("js")
      .describe(
        "Gradient engine: `js` (hand-written forward/backward over Float32Array, verified against tfjs) or `tfjs` (tfjs autodiff on the wasm/node backend; slower on a 64x64 MLP).",
      ),

    threads: z
      .number()
      .int()
      .min(1)
      .max(2)
      .default(2)
      .describe(
        "js engine: 2 runs the critic's half of every minibatch on a worker thread beside the actor's (bit-identical to 1, about 1.7x faster updates on 2+ cores).",
      ),

    // --- rollouts ---------------------------------------------------------------
    nEnvs: z.number().int().positive().default(8).describe("Simulator instances stepped together (batched inference)."),
    nSteps: z.number().int().positive().default(2048).describe("Steps per env per rollout (SB3 `n_steps`)."),

    // --- PPO --------------------------------------------------------------------
    batchSize: z.number().int().positive().default(64).describe("Minibatch size (SB3 `batch_size`)."),
    nEpochs: z.number().int().positive().default(10).describe("Passes over each rollout (SB3 `n_epochs`)."),
    learningRate: z.number().positive().default(3e-4).describe("Adam step size."),
    annealLr: z
      .boolean()
      .default(false)
      .describe(
        "Decay the learning rate linearly to 0 over training (cleanrl `anneal_lr`; SB3's default is constant).",
      ),
    gamma: z.number().min(0).max(1).default(0.99).describe("Discount factor."),
    gaeLambda: z.number().min(0).max(1).default(0.95).describe("GAE lambda (bias/variance of the advantage)."),
    clipCoef: z.number().positive().default(0.2).describe("Surrogate clipping coefficient epsilon."),
    entCoef: z
      .number()
      .min(0)
      .default(0.01)
      .describe(
        "Entropy bonus coefficient (cleanrl's 0.01; SB3's is 0, with which the policy collapsed onto restarting at every chance).",
      ),
    vfCoef: z.number().min(0).default(0.5).describe("Value loss coefficient."),
    maxGradNorm: z.number().positive().default(0.5).describe("Global gradient norm clip."),
    normAdv: z.boolean().default(true).describe("Normalise advantages per minibatch."),
    targetKl: z
      .number()
      .positive()
      .nullable()
      .default(null)
      .describe("Stop the epochs of an update early when the approx KL exceeds this (null: never)."),
    adamEps: z.number().positive().default(1e-5).describe("Adam epsilon (SB3 and cleanrl use 1e-5)."),

    // --- network ----------------------------------------------------------------
    hidden: z
      .array(z.number().int().positive())
      .min(1)
      .default([64, 64])
      .describe("Hidden layer sizes of the actor and of the critic (separate tanh MLPs)."),
    normObs: z
      .boolean()
      .default(true)
      .describe(
        "Normalise observations with running mean/variance (SB3 VecNormalize); exported inside the ONNX graph.",
      ),
    obsClip: z.number().positive().default(10).describe("Clip normalised observations to +-this."),

    // --- environment ------------------------------------------------------------
    codec: z
      .string()
      .default(DEFAULT_CODEC)
      .refine((c) => codecNames().includes(c), {
        error: (iss) =>
          `Expected a registered state codec (${codecNames()
            .map((n) => `"${n}"`)
            .join(", ")}), got ${JSON.stringify(iss.input)}`,
      })
      .describe(
        "State codec the policy reads (harness/core/codecs.ts): obs-v1 (9 floats, the contract's; trains exactly as before the option existed), obs-v2 (25: load against capacity, trends, pending and drained pods, the worst pod) or obs-v1-stack4 (36: the last four obs-v1 vectors). The exported model's input, metadata and card name it.",
      ),
    reward: z
      .enum(REWARD_NAMES)
      .default("aligned")
      .describe("Reward function (sim/reward.ts) the agent is trained on."),
    faults: z
      .array(z.union([z.enum(TRAINING_FAULTS), trainingCellSchema]))
      .min(1)
      .default([...TRAINING_FAULTS])
      .describe(
        "Fault cells drawn per episode: a fault type alone, `combined` (each injection draws one of all six), or (YAML only) a named cell { name, faults: [...], inject: one|all } as on a scenario's fault axis; inject: all trains on compound incidents.",
      ),
    frequencies: frequencyListSchema
      .default([
        { kind: "fixed", intervalS: 300 },
        { kind: "poisson", meanIntervalS: 120 },
        { kind: "poisson", meanIntervalS: 250 },
        { kind: "poisson", meanIntervalS: 500 },
        { kind: "poisson", meanIntervalS: 1000 },
      ])
      .describe("Fault frequencies drawn per episode."),
    workloads: z
      .array(z.enum(WORKLOAD_PATTERNS))
      .min(1)
      .default([...WORKLOAD_PATTERNS])
      .describe("Workload patterns drawn per episode."),
    episodeSteps: z.number().int().positive().default(200).describe("Steps per episode (then truncated)."),
    trainingSeedStart: z
      .number()
      .int()
      .min(1000)
      .default(TRAINING_SEED_START)
      .describe(
        "Episode k of training runs on seed trainingSeedStart + k: disjoint from the evaluation seeds (1..20 in the committed scenarios).",
      ),
    randomise: randomiseSchema
      .nullable()
      .default(null)
      .describe(
        "Domain randomisation (randomise.ts): per-episode simulator parameters, load, replica counts, fault parameters and compound faults, drawn from the episode seed; null: off (every episode on the default deployment).",
      ),
    // prefault: an absent value is parsed as {}, so the defaults are the schema's own.
    guard: guardLimitsSchema
      .prefault({})
      .describe("The guard training acts through (harness/core/guard.ts): refused actions become noop."),
    actionMask: z
      .enum(ACTION_MASKS)
      .default("none")
      .describe(
        "none: the policy samples every action and the guard turns a refused one into noop; guard: the policy samples only among the actions the guard's limits allow at that step (allowedActions in harness/core/guard.ts: replica bounds, minimum interval), in training and, through its card, at decision time.",
      ),
    slo: z
      .object({
        latencyMs: z.number().positive().default(300),
        errorRate: z.number().min(0).max(1).default(0.01),
        confirmWindowS: z
          .number()
          .positive()
          .default(30)
          .describe("Seconds the SLO must hold again to count a recovery (the scenarios' confirmation window)."),
      })
      .strict()
      .prefault({})
      .describe("SLO for the training metrics (SLO-held share, recovery time); the scenarios' default."),

    // --- outputs ----------------------------------------------------------------
    // Not models/ppo-obs-v1.onnx: a short trial run once replaced the committed model silently.
    out: z
      .string()
      .nullable()
      .default(null)
      .describe(
        "ONNX file to write, its model card beside it (default: runs/models/<run id>.onnx). An existing file is replaced only with overwrite.",
      ),
    overwrite: z
      .boolean()
      .default(false)
      .describe("Replace an existing model file at out (e.g. the committed models/ppo-obs-v1.onnx)."),
    checkpointEvery: z
      .number()
      .int()
      .min(0)
      .default(10)
      .describe("Write a checkpoint every this many updates (0: only at the end)."),
    checkpointDir: z.string().default("runs/checkpoints").describe("Folder of the checkpoints."),
    db: z
      .string()
      .nullable()
      .default("runs/training.duckdb")
      .describe("DuckDB trace store for the per-update metrics (--db none, or null in YAML: no store)."),
    metricsPort: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .nullable()
      .default(null)
      .describe("Serve live Prometheus /metrics on this port while training (null: off)."),
    metricsHost: z
      .string()
      .min(1)
      .default("127.0.0.1")
      .describe("Address the /metrics server listens on (0.0.0.0: every interface, for a Prometheus elsewhere)."),
    progress: z.boolean().default(true).describe("Show a progress bar on stderr."),
  })
  .strict()
  .refine((o) => (o.nEnvs * o.nSteps) % o.batchSize === 0, {
    message: "Expected nEnvs * nSteps to be a multiple of batchSize",
    path: ["batchSize"],
  });

export type PpoOptionsInput = z.input<typeof ppoOptionsSchema>;
export type PpoOptions = z.output<typeof ppoOptionsSchema>;

/** Sizes derived once from the options (cleanrl's `batch_size`, `minibatch_size`, `num_iterations`). */
export interface DerivedSizes {
  /** Samples per rollout: nEnvs * nSteps. */
  readonly rolloutSize: number;
  readonly minibatchesPerEpoch: number;
  /** Updates (rollout + optimisation) in the run. */
  readonly numUpdates: number;
}

export function derivedSizes(o: PpoOptions): DerivedSizes {
  const rolloutSize = o.nEnvs * o.nSteps;
  return {
    rolloutSize,
    minibatchesPerEpoch: rolloutSize / o.batchSize,
    numUpdates: Math.ceil(o.totalTimesteps / rolloutSize),
  };
}

/**
 * Options from a YAML file (keys as in the schema), then `overrides` on top (flags).
 * Throws with every issue, one per line, naming the key.
 */
export function loadPpoOptions(file: string | null, overrides: PpoOptionsInput = {}): PpoOptions {
  let fromFile: Record<string, unknown> = {};
  if (file !== null) {
    const parsed: unknown = parseYaml(readFileSync(file, "utf8"));
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== "object" || Array.isArray(parsed)) {
        throw new HarnessError(
          "ppo_options_invalid",
          `${file}: expected a mapping of PPO options, got ${Array.isArray(parsed) ? "a list" : typeof parsed}`,
        );
      }
      fromFile = parsed as Record<string, unknown>;
    }
  }
  const result = ppoOptionsSchema.safeParse({ ...fromFile, ...overrides });
  if (!result.success) {
    const where = file === null ? "PPO options" : file;
    throw new HarnessError(
      "ppo_options_invalid",
      `${where}: invalid PPO options\n${result.error.issues
        .map((i) => `  ✖ ${i.message} → at ${i.path.join(".") || "(root)"}`)
        .join("\n")}`,
    );
  }
  return result.data;
}
