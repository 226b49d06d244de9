/**
 * The agent service's wire format: one zod schema per request and response body, shared by
 * the server (policies/service/app.ts validates with them and builds the OpenAPI document
 * from them) and by clients (the rl policy's `url` mode parses replies with them).
 *
 * A state is an `obs-v1` vector (harness/core/contract.ts): exactly 9 finite numbers. zod 4's
 * `z.number()` refuses NaN and ±Infinity (JSON cannot spell NaN, but `1e999` parses to
 * Infinity), so a bad number never reaches the model.
 */
import { z } from "zod";
import { ACTION_COUNT, ACTION_NAMES, OBS_V1 } from "../../harness/core/contract.ts";

/** Most states in one `/predict/batch` body. */
export const MAX_BATCH_STATES = 4096;

/**
 * Largest request body, bytes: a full batch of 9 floats written with 17 significant digits
 * (~25 bytes each with the comma) is ~0.9 MB, so 1 MiB admits it and little more.
 */
export const BODY_LIMIT_BYTES = 1024 * 1024;

export const stateSchema = z
  .array(z.number())
  .length(OBS_V1.dim)
  .describe(`An ${OBS_V1.name} state: ${OBS_V1.dim} finite numbers (${OBS_V1.features.join("; ")}).`);

export const predictRequestSchema = z.object({ state: stateSchema }).strict();
export type PredictRequest = z.input<typeof predictRequestSchema>;

export const predictBatchRequestSchema = z
  .object({ states: z.array(stateSchema).min(1).max(MAX_BATCH_STATES).describe("States to decide, in order.") })
  .strict();
export type PredictBatchRequest = z.input<typeof predictBatchRequestSchema>;

export const modelRefSchema = z.object({
  sha256: z.string().describe("sha256 of the ONNX file being served."),
  codec: z.literal(OBS_V1.name).describe("State codec the model reads."),
});

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

export const predictResponseSchema = decisionSchema.extend({ model: modelRefSchema });
export type PredictResponse = z.output<typeof predictResponseSchema>;

export const predictBatchResponseSchema = z.object({
  decisions: z.array(decisionSchema).describe("One decision per state, in request order."),
  model: modelRefSchema,
});
export type PredictBatchResponse = z.output<typeof predictBatchResponseSchema>;

export const healthResponseSchema = z.object({ status: z.literal("ok") });

export const readyResponseSchema = z.object({
  ready: z.boolean(),
  model: modelRefSchema.nullable(),
});

export const modelResponseSchema = z.object({
  file: z.string().describe("The ONNX file as given to `agent serve`."),
  sha256: z.string(),
  codec: z.literal(OBS_V1.name),
  card: z.record(z.string(), z.unknown()).nullable().describe("The model card (models/NAME.json), or null."),
  warnings: z.array(z.string()).describe("What the loader warned about."),
});

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

export const transitionSchema = z
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
export type Transition = z.output<typeof transitionSchema>;

export const updateRequestSchema = z
  .object({
    transitions: z
      .array(transitionSchema)
      .min(1)
      .max(MAX_UPDATE_TRANSITIONS)
      .describe("Transitions in the order they happened, acted on by the served model."),
  })
  .strict();

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

export const updatesResponseSchema = z.object({
  serving: modelRefSchema.extend({ file: z.string() }),
  previous: z
    .array(z.object({ sha256: z.string(), file: z.string() }))
    .describe("What `/rollback` returns to, newest first."),
  running: z.int().nullable().describe("Id of the fine-tuning job in progress."),
  records: z.array(z.discriminatedUnion("kind", [candidateRecordSchema, rollbackRecordSchema])),
});

export const rollbackResponseSchema = z.object({
  serving: modelRefSchema.extend({ file: z.string() }),
  replaced: z.object({ sha256: z.string(), file: z.string() }),
});

export const explainRequestSchema = z
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

export const explainResponseSchema = z.object({
  action: z.int(),
  actionName: z.enum(ACTION_NAMES),
  output: z.number().describe("Probability of the chosen action for `state`."),
  base: z
    .number()
    .describe("Mean probability of that action over the background; the attributions sum to output - base."),
  attributions: z
    .array(z.object({ feature: z.string(), index: z.int(), value: z.number(), phi: z.number() }))
    .length(OBS_V1.dim)
    .describe("Exact Shapley value of each feature, in codec order."),
  background: z.array(z.array(z.number())),
  model: modelRefSchema,
});
