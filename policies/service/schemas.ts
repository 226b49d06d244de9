/**
 * The agent service's wire format: one zod schema per request and response body, shared by
 * the server (policies/service/app.ts validates with them and builds the OpenAPI document
 * from them) and by clients (the rl policy's `url` mode parses replies with them).
 *
 * A state is a vector of the served model's state codec (its card's `codec`,
 * harness/core/codecs.ts): exactly 9 finite numbers for obs-v1, 25 for obs-v2. The schemas
 * that carry a state or name the codec are built per codec by {@link agentSchemas}; a
 * service serves one model, so it validates with one codec's schemas and its OpenAPI
 * document states that codec's length. The module's own exports of those schemas are
 * obs-v1's. zod 4's `z.number()` refuses NaN and ±Infinity (JSON cannot spell NaN, but
 * `1e999` parses to Infinity), so a bad number never reaches the model.
 */
import { z } from "zod";
import { codecByName, DEFAULT_CODEC, type StateCodec } from "../../harness/core/codecs.ts";
import { ACTION_COUNT, ACTION_NAMES } from "../../harness/core/contract.ts";
// Registers the codecs: a service may serve a model of any of them.
import "../codecs.ts";

/** Most states in one `/predict/batch` body. */
export const MAX_BATCH_STATES = 4096;

const MIB = 1024 * 1024;

/**
 * Largest request body, bytes, for states of `dim` floats: a full batch written with 17
 * significant digits (~25 bytes each with the comma, 26 with slack) in whole MiB, at least
 * 1 MiB. obs-v1's 9 floats: ~0.9 MB, so 1 MiB admits it and little more; obs-v2's 25: 3 MiB.
 */
export function bodyLimitBytes(dim: number): number {
  return Math.max(MIB, Math.ceil((MAX_BATCH_STATES * dim * 26) / MIB) * MIB);
}

/** obs-v1's body limit (1 MiB). */
export const BODY_LIMIT_BYTES = bodyLimitBytes(codecByName(DEFAULT_CODEC).dim);

/** The codec-dependent schemas of one codec: what {@link agentSchemas} returns. */
function buildSchemas(codec: StateCodec) {
  const stateSchema = z
    .array(z.number())
    .length(codec.dim)
    .describe(`An ${codec.name} state: ${codec.dim} finite numbers (${codec.features.join("; ")}).`);

  const predictRequestSchema = z.object({ state: stateSchema }).strict();

  const predictBatchRequestSchema = z
    .object({ states: z.array(stateSchema).min(1).max(MAX_BATCH_STATES).describe("States to decide, in order.") })
    .strict();

  const modelRefSchema = z.object({
    sha256: z.string().describe("sha256 of the ONNX file being served."),
    codec: z.literal(codec.name).describe("State codec the model reads (its card's `codec`)."),
  });

  const predictResponseSchema = decisionSchema.extend({ model: modelRefSchema });

  const predictBatchResponseSchema = z.object({
    decisions: z.array(decisionSchema).describe("One decision per state, in request order."),
    model: modelRefSchema,
  });

  const readyResponseSchema = z.object({
    ready: z.boolean(),
    model: modelRefSchema.nullable(),
  });

  const modelResponseSchema = z.object({
    file: z.string().describe("The ONNX file as given to `agent serve`."),
    sha256: z.string(),
    codec: z.literal(codec.name).describe("State codec the model reads; a state is this codec's vector."),
    card: z.record(z.string(), z.unknown()).nullable().describe("The model card (models/NAME.json), or null."),
    warnings: z.array(z.string()).describe("What the loader warned about."),
  });

  const transitionSchema = z
    .object({
      state: stateSchema,
      action: z
        .int()
        .min(0)
        .max(ACTION_COUNT - 1)
        .describe("The action executed in `state` (after the guard), by id."),
      reward: z.number().describe("Reward received for it."),
      nextState: stateSchema,
      done: z.boolean().describe("The episode ended at `nextState` (no bootstrapping from it)."),
    })
    .strict();

  const updateRequestSchema = z
    .object({
      transitions: z
        .array(transitionSchema)
        .min(1)
        .max(MAX_UPDATE_TRANSITIONS)
        .describe("Transitions in the order they happened, acted on by the served model."),
    })
    .strict();

  const updatesResponseSchema = z.object({
    serving: modelRefSchema.extend({ file: z.string() }),
    previous: z
      .array(z.object({ sha256: z.string(), file: z.string() }))
      .describe("What `/rollback` returns to, newest first."),
    running: z.int().nullable().describe("Id of the fine-tuning job in progress."),
    records: z.array(z.discriminatedUnion("kind", [candidateRecordSchema, rollbackRecordSchema])),
  });

  const rollbackResponseSchema = z.object({
    serving: modelRefSchema.extend({ file: z.string() }),
    replaced: z.object({ sha256: z.string(), file: z.string() }),
  });

  const explainRequestSchema = z
    .object({
      state: stateSchema,
      background: z
        .array(stateSchema)
        .min(1)
        .max(64)
        .optional()
        .describe("Reference states (e.g. recorded while the service was healthy). Default: one healthy steady state."),
    })
    .strict();

  const explainResponseSchema = z.object({
    action: z.int(),
    actionName: z.enum(ACTION_NAMES),
    output: z.number().describe("Probability of the chosen action for `state`."),
    base: z
      .number()
      .describe("Mean probability of that action over the background; the attributions sum to output - base."),
    attributions: z
      .array(z.object({ feature: z.string(), index: z.int(), value: z.number(), phi: z.number() }))
      .length(codec.dim)
      .describe("Shapley value of each feature, in codec order (exact, or estimated: see `method`)."),
    method: z
      .string()
      .describe(
        '"exact" (every coalition, up to 12 features: obs-v1) or "sampled: K permutations (seeded)" (obs-v2); either way the attributions sum to output - base.',
      ),
    background: z.array(z.array(z.number())),
    model: modelRefSchema,
  });

  return {
    codec,
    stateSchema,
    predictRequestSchema,
    predictBatchRequestSchema,
    modelRefSchema,
    predictResponseSchema,
    predictBatchResponseSchema,
    readyResponseSchema,
    modelResponseSchema,
    transitionSchema,
    updateRequestSchema,
    updatesResponseSchema,
    rollbackResponseSchema,
    explainRequestSchema,
    explainResponseSchema,
  };
}

export type AgentSchemas = ReturnType<typeof buildSchemas>;

const BY_CODEC = new Map<string, AgentSchemas>();

/**
 * The schemas that depend on the state codec, for the codec named `codec` (obs-v1 when
 * absent; a `CodecUnknown` error for an unregistered one). Built once per codec, so a
 * validator compiled from them is compiled once.
 */
export function agentSchemas(codec: string = DEFAULT_CODEC): AgentSchemas {
  let s = BY_CODEC.get(codec);
  if (s === undefined) {
    s = buildSchemas(codecByName(codec));
    BY_CODEC.set(codec, s);
  }
  return s;
}

/** One decision, without the model reference (a batch states it once). */
export const decisionSchema = z.object({
  action: z
    .int()
    .min(0)
    .max(ACTION_COUNT - 1)
    .describe("Action id (harness/core/contract.ts Action)."),
  actionName: z.enum(ACTION_NAMES).describe("The action's name."),
  confidence: z.number().min(0).max(1).describe("Probability of the chosen action (1 for an action-only model)."),
  probs: z.array(z.number()).length(ACTION_COUNT).nullable().describe("Probability of each action by id, or null."),
  value: z.number().nullable().describe("The value head's estimate of the state, or null without one."),
});
export type DecisionBody = z.output<typeof decisionSchema>;

export const healthResponseSchema = z.object({ status: z.literal("ok") });

/** One field that failed validation: where, and why. */
export const fieldErrorSchema = z.object({
  field: z.string().describe("Path of the field in the body, e.g. `state[3]` (`body` for the whole body)."),
  code: z.string().describe("zod issue code, e.g. invalid_type, too_small."),
  message: z.string(),
});

/** RFC 9457 problem details (served as `application/problem+json`). */
export const problemSchema = z.object({
  type: z.string().describe("A URI naming the problem type; `about:blank` when the status says it all."),
  title: z.string(),
  status: z.int(),
  detail: z.string(),
  instance: z.string().describe("The request path."),
  errors: z.array(fieldErrorSchema).optional().describe("Each invalid field, when the body failed validation."),
});
export type Problem = z.output<typeof problemSchema>;

// ---------------------------------------------------------------------------
// Online learning (`POST /update`, `GET /updates`, `POST /rollback`) and `POST /explain`

/** Most transitions in one `/update` body. */
export const MAX_UPDATE_TRANSITIONS = 4096;

export const updateResponseSchema = z.object({
  batch: z.int().describe("Sequence number of this batch in the transition log."),
  stored: z.int().describe("Transitions stored from this body (durably, before this answer)."),
  total: z.int().describe("Transitions in the log."),
  job: z
    .object({ id: z.int(), status: z.enum(["started", "queued"]) })
    .nullable()
    .describe("The fine-tuning job this batch will feed, or null when the service does not fine-tune yet."),
});

export const pairedDiffSchema = z.object({
  estimate: z.number().describe("Mean over episodes of candidate minus serving."),
  lower: z.number().nullable(),
  upper: z.number().nullable().describe("95% seed-bootstrap interval (reports/bootstrap.ts); null with < 2 seeds."),
  p: z.number().nullable().describe("Sign-flip permutation p-value over seeds."),
});

export const candidateRecordSchema = z.object({
  kind: z.literal("candidate"),
  id: z.int(),
  at: z.string().describe("When the decision was taken (ISO 8601)."),
  parent: z.object({ sha256: z.string(), file: z.string() }).describe("The model it was fine-tuned from."),
  candidate: z.object({ sha256: z.string(), file: z.string() }).nullable(),
  transitions: z.int(),
  fineTune: z.record(z.string(), z.unknown()).nullable(),
  evaluation: z
    .object({
      scenario: z.string(),
      episodes: z.int().describe("Paired episodes (each run by both models)."),
      seeds: z.array(z.int()),
      marginUptime: z.number().describe("How much lower uptime still counts as not worse."),
      uptime: z.object({ serving: z.number(), candidate: z.number(), diff: pairedDiffSchema }),
      replicasMean: z.object({ serving: z.number(), candidate: z.number(), diff: pairedDiffSchema }),
    })
    .nullable(),
  decision: z.enum(["promoted", "rejected", "failed"]),
  reason: z.string(),
});
export type CandidateRecord = z.output<typeof candidateRecordSchema>;

export const rollbackRecordSchema = z.object({
  kind: z.literal("rollback"),
  at: z.string(),
  from: z.object({ sha256: z.string(), file: z.string() }),
  to: z.object({ sha256: z.string(), file: z.string() }),
});
export type RollbackRecord = z.output<typeof rollbackRecordSchema>;

// ---------------------------------------------------------------------------
// obs-v1's instances of the codec-dependent schemas (clients and tests of the contract's codec)

const OBS_V1_SCHEMAS = agentSchemas(DEFAULT_CODEC);
export const stateSchema = OBS_V1_SCHEMAS.stateSchema;
export const predictRequestSchema = OBS_V1_SCHEMAS.predictRequestSchema;
export type PredictRequest = z.input<typeof predictRequestSchema>;
export const predictBatchRequestSchema = OBS_V1_SCHEMAS.predictBatchRequestSchema;
export type PredictBatchRequest = z.input<typeof predictBatchRequestSchema>;
export const modelRefSchema = OBS_V1_SCHEMAS.modelRefSchema;
export const predictResponseSchema = OBS_V1_SCHEMAS.predictResponseSchema;
export type PredictResponse = z.output<typeof predictResponseSchema>;
export const predictBatchResponseSchema = OBS_V1_SCHEMAS.predictBatchResponseSchema;
export type PredictBatchResponse = z.output<typeof predictBatchResponseSchema>;
export const readyResponseSchema = OBS_V1_SCHEMAS.readyResponseSchema;
export const modelResponseSchema = OBS_V1_SCHEMAS.modelResponseSchema;
export const transitionSchema = OBS_V1_SCHEMAS.transitionSchema;
export type Transition = z.output<typeof transitionSchema>;
export const updateRequestSchema = OBS_V1_SCHEMAS.updateRequestSchema;
export const updatesResponseSchema = OBS_V1_SCHEMAS.updatesResponseSchema;
export const rollbackResponseSchema = OBS_V1_SCHEMAS.rollbackResponseSchema;
export const explainRequestSchema = OBS_V1_SCHEMAS.explainRequestSchema;
export const explainResponseSchema = OBS_V1_SCHEMAS.explainResponseSchema;
