/**
 * The `rl` policy: a trained network served from an ONNX file by onnxruntime-node. It
 * picks the argmax action of the model's scores and reports the chosen action's
 * probability as its confidence (policies/onnx-model.ts says how outputs are read).
 *
 * The policy names the codec its model's card names (`Policy.codec`: obs-v1, obs-v2...), so
 * the loop feeds an obs-v2 model obs-v2 vectors; a model without a card is obs-v1. With
 * `url`, the served model is not read here: the `codec` parameter says what to send (the
 * service refuses a state of the wrong length with 422, and the loop falls back).
 *
 * Loading a model is asynchronous and `createPolicy` is not, so the rl policy has a
 * `prepare` step (`preparePolicy` in policies/index.ts), which harness/episode.ts awaits
 * before building the episode's policy. Loaded models are cached per thread by path and
 * sha256: every episode re-reads and hashes the file (microseconds for a small MLP) and
 * reuses the session while the bytes are the same.
 *
 * `decide` returns a Promise: onnxruntime-node's public `run` is asynchronous (see
 * policies/README.md, "rl: ONNX policies", for the measured cost); the loop awaits it.
 */
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { codecNames, DEFAULT_CODEC } from "../harness/core/codecs.ts";
import type { Action, Decision, Policy, Snapshot } from "../harness/core/contract.ts";
import { maskedArgmax } from "../harness/core/guard.ts";
import { definePolicy } from "./definition.ts";
import { sha256Hex } from "./model-card.ts";
import { loadOnnxModel, ModelError, ModelErrorCode, type ModelLogger, type OnnxPolicyModel } from "./onnx-model.ts";
import { agentClient } from "./service/client.ts";

/** The committed model (trained by `npm run train`), relative to the project root. */
export const DEFAULT_MODEL = "models/ppo-obs-v1.onnx";

/** Relative model paths resolve against the project root, whatever the working directory. */
export const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));

export function resolveModelPath(model: string): string {
  return isAbsolute(model) ? model : resolve(PROJECT_ROOT, model);
}

/** The rl policy always decides asynchronously (see the file comment). */
export interface RlPolicy extends Policy {
  decide(state: Float32Array, snapshot: Snapshot, signal?: AbortSignal, allowed?: Uint8Array): Promise<Decision>;
}

const paramsSchema = z
  .object({
    model: z
      .string()
      .min(1)
      .default(DEFAULT_MODEL)
      .describe(
        "ONNX model file, relative to the project root or absolute; its card (the .json beside it) names the state codec it is fed (obs-v1 without a card).",
      ),
    url: z
      .url()
      .optional()
      .describe(
        "An agent service (`harness agent serve`) to ask instead of loading `model`; when it fails or times out, the scenario's fallback decides.",
      ),
    timeoutMs: z
      .number()
      .int()
      .positive()
      .default(200)
      .describe("With `url`: give up on the service after this many milliseconds (below the guard's policyTimeoutMs)."),
    codec: z
      .string()
      .refine((c) => codecNames().includes(c), {
        error: (iss) =>
          `Expected a registered state codec (${codecNames()
            .map((n) => `"${n}"`)
            .join(", ")}), got ${JSON.stringify(iss.input)}`,
      })
      .optional()
      .describe(
        "The state codec the policy is fed. With `url`: what the served model reads (GET /model says; default obs-v1). With `model`: a pin; a card naming another codec is refused (CodecMismatch). Default: the card's codec.",
      ),
  })
  .strict();
export type RlParams = z.output<typeof paramsSchema>;

export interface PrepareOptions {
  /** Receives load warnings (e.g. a model without a card). @default process.emitWarning, once per model */
  readonly logger?: ModelLogger;
}

const defaultLogger: ModelLogger = {
  warn: (message) => process.emitWarning(message, { code: "RL_MODEL" }),
};

interface CacheEntry {
  readonly sha256: string;
  readonly model: Promise<OnnxPolicyModel>;
}
/** Absolute path -> the model last prepared from it (one per thread). */
const cache = new Map<string, CacheEntry>();
/** Absolute path -> the loaded model, once its load has finished (what `create` reads). */
const ready = new Map<string, OnnxPolicyModel>();

/**
 * Loads (or finds in the cache) the model of `params`. Throws a {@link ModelError} that
 * names the file when it is missing or refused.
 */
export async function prepareRl(
  params: Pick<RlParams, "model"> & { readonly codec?: string | undefined },
  options: PrepareOptions = {},
): Promise<OnnxPolicyModel> {
  const path = resolveModelPath(params.model);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw notFound(params.model, path);
    throw err;
  }
  const sha256 = sha256Hex(bytes);
  let entry = cache.get(path);
  if (entry?.sha256 !== sha256) {
    // New, or changed on disk: a new session replaces the old one, which is left to the
    // garbage collector rather than released, as an episode may still be running on it.
    entry = { sha256, model: loadOnnxModel(path, { logger: options.logger ?? defaultLogger }) };
    cache.set(path, entry);
    ready.delete(path);
  }
  // The pin is checked per call, not per load: the cached model serves callers with and without one.
  let model: OnnxPolicyModel;
  try {
    model = await entry.model;
  } catch (err) {
    if (cache.get(path) === entry) cache.delete(path);
    throw err;
  }
  if (model.sha256 !== sha256) {
    // Changed between our read and the loader's: load again from what is there now.
    return prepareRl(params, options);
  }
  if (params.codec !== undefined && params.codec !== model.codec.name) {
    throw new ModelError(
      ModelErrorCode.CodecMismatch,
      params.model,
      `rl: Expected model ${params.model} to read codec "${params.codec}" (the rl policy's \`codec\` parameter), got "${model.codec.name}" (${model.card === null ? "no card: obs-v1" : "its card"})`,
    );
  }
  ready.set(path, model);
  return model;
}

function notFound(given: string, path: string): ModelError {
  const hint =
    given === DEFAULT_MODEL
      ? "The default model is committed with the project; `npm run train` writes it again, or give the rl policy a model: { name: rl, params: { model: path/to/model.onnx } }"
      : "Check the rl policy's `model` parameter (relative paths resolve against the project root)";
  return new ModelError(ModelErrorCode.ModelNotFound, given, `rl: model file ${given} not found (${path}). ${hint}`);
}

/**
 * sha256 of every model the scenario's `rl` cells name, by the path as written (after
 * defaults), for the run context. Files that do not exist are left out: their episodes
 * fail with `ModelNotFound`, and a run narrowed to other policies must not.
 */
export function modelChecksums(scenario: {
  readonly matrix: { readonly policy: readonly { readonly name: string; readonly params: unknown }[] };
}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const cell of scenario.matrix.policy) {
    if (cell.name !== "rl") continue;
    const { model, url } = paramsSchema.parse(cell.params ?? {});
    // A served model is the service's to report (GET /model), not a local file's.
    if (url !== undefined) continue;
    if (Object.hasOwn(out, model)) continue;
    try {
      out[model] = sha256Hex(readFileSync(resolveModelPath(model)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  return out;
}

/** The rl policy asking a running agent service; a failure throws, and the loop falls back. */
function remoteRl(url: string, timeoutMs: number, codec: string): RlPolicy {
  const predict = agentClient({ url, timeoutMs, codec });
  const decision: Decision = { action: 0, confidence: 0, reason: `agent service ${url}` };
  return {
    name: "rl",
    codec,
    async decide(state, _snapshot, signal) {
      const d = await predict(state, signal);
      decision.action = d.action as Action;
      decision.confidence = d.confidence;
      if (d.probs) decision.probs = d.probs;
      return decision;
    },
  };
}

/**
 * The argmax among the allowed actions, its confidence the probability renormalised over
 * them: the masked distribution the model was trained to sample from (policies/ppo/mlp.ts
 * maskLogits). `decision.probs` stays the model's own output.
 */
function maskDecision(decision: Decision, probs: Float32Array, allowed: Uint8Array): void {
  const best = maskedArgmax(probs, allowed);
  let mass = 0;
  for (let k = 0; k < probs.length; k++) if (allowed[k] === 1) mass += probs[k]!;
  decision.action = best;
  decision.confidence = mass > 0 ? probs[best]! / mass : 0;
}

export const rl = {
  ...definePolicy({
    description:
      "A trained policy network (ONNX; fed the codec its card names): argmax action, confidence = its probability.",
    params: paramsSchema,
    create: (params): RlPolicy => {
      if (params.url !== undefined) return remoteRl(params.url, params.timeoutMs, params.codec ?? DEFAULT_CODEC);
      const path = resolveModelPath(params.model);
      const model = ready.get(path);
      if (!model) {
        if (!existsSync(path)) throw notFound(params.model, path);
        throw new Error(
          `rl: model ${params.model} is not loaded; await preparePolicy("rl", params) before createPolicy (harness/episode.ts does)`,
        );
      }
      const reason = model.io.scores ? "argmax of the model's action probabilities" : "the model's own action output";
      const decision: Decision = { action: 0, confidence: 0, reason };
      // Buffers of this policy instance: episodes that share a model in one thread never share inputs.
      const decide = model.decider();
      // A model trained under the guard's mask chooses under it (it needs its scores to).
      const actionMask = model.card?.actionMask === "guard" && model.io.scores ? "guard" : "none";
      return {
        name: "rl",
        // The loop encodes each observation with this codec (harness/loop.ts feedFor).
        codec: model.codec.name,
        actionMask,
        async decide(state, _snapshot, _signal, allowed) {
          const d = await decide(state);
          decision.action = d.action as Action;
          decision.confidence = d.confidence;
          if (d.probs) {
            decision.probs = d.probs;
            if (allowed !== undefined) maskDecision(decision, d.probs, allowed);
          }
          return decision;
        },
      };
    },
  }),
  // With `url` the service holds the model, and whether it is up is found out per decision.
  prepare: (params: RlParams, options?: PrepareOptions) =>
    params.url === undefined ? prepareRl(params, options) : Promise.resolve(null),
};
