/**
 * Model cards: the JSON file beside every trained model (`models/NAME.onnx` ->
 * `models/NAME.json`) that says what the model expects and how it was made: its state
 * codec and action names (so that a model is never fed another codec's vectors), its
 * input and outputs, the full training options, seed, steps, wall time, evaluation
 * results, and the sha256 of the ONNX file it describes.
 *
 * The trainer writes cards through {@link modelCardSchema} (or {@link writeModelCard});
 * the `rl` policy reads them through {@link parseModelCard}. A card is optional for a
 * foreign model (e.g. a Stable-Baselines3 export, taken as obs-v1), see policies/onnx-model.ts.
 *
 * `codec` is any codec of the registry (harness/core/codecs.ts: obs-v1, obs-v2, ...), and
 * `obsDim` and the input's last axis must be that codec's dimension: the card is what tells
 * the loop, the agent service and the trainer which vector the model reads.
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { z } from "zod";
import { codecByName, codecNames, DEFAULT_CODEC } from "../harness/core/codecs.ts";
import { ACTION_MASKS, ACTION_NAMES } from "../harness/core/contract.ts";
// Registers the codecs: a card may name any of them wherever cards are read.
import "./codecs.ts";

/** Version of the card format itself; bumped when a field changes meaning. */
export const MODEL_CARD_VERSION = 1;

/** Element types a card may name, as onnxruntime-node spells them. */
export const TENSOR_TYPES = ["float32", "float64", "int32", "int64"] as const;

/**
 * What an output means. `logits` and `probabilities` are the per-action scores
 * ([batch, 5]); `value` the state value ([batch, 1]); `action` an action id computed by
 * the model (int64 [batch] or [batch, 1]); `log-prob` that action's log-probability
 * ([batch]).
 */
export const OUTPUT_ROLES = ["logits", "probabilities", "value", "action", "log-prob"] as const;
export type OutputRole = (typeof OUTPUT_ROLES)[number];

const SHA256 = /^[0-9a-f]{64}$/;

/** A dimension: a size, or a name for a dynamic axis (e.g. "batch"). */
const dimSchema = z.union([z.int().nonnegative(), z.string().min(1)]);

const tensorSchema = z
  .object({
    name: z.string().min(1).describe("The tensor's name in the ONNX graph."),
    type: z.enum(TENSOR_TYPES).describe("Element type."),
    shape: z.array(dimSchema).min(1).describe('Dimensions; a string names a dynamic axis (e.g. ["batch", 9]).'),
  })
  .strict();

const outputSchema = tensorSchema.extend({ role: z.enum(OUTPUT_ROLES).describe("What the output means.") }).strict();

const actionNamesSchema = z.array(z.string()).superRefine((names, ctx) => {
  if (names.length !== ACTION_NAMES.length || names.some((n, i) => n !== ACTION_NAMES[i])) {
    ctx.addIssue({
      code: "custom",
      input: names,
      message: `${JSON.stringify(ACTION_NAMES)} (ACTION_NAMES of harness/core/contract.ts, in this order)`,
    });
  }
});

/** A registered codec's name; the message lists the registered ones. */
const codecNameSchema = z.string().superRefine((name, ctx) => {
  if (!codecNames().includes(name)) {
    ctx.addIssue({
      code: "custom",
      input: name,
      message: codecNames()
        .map((n) => JSON.stringify(n))
        .join(" or "),
    });
  }
});

/** The dimension of the card's codec, or null when the codec is not registered (reported on `codec`). */
function dimOf(codec: string): number | null {
  return codecNames().includes(codec) ? codecByName(codec).dim : null;
}

/**
 * The card of one model. Every field is required except `description` and `createdAt`;
 * `training` and `evaluation` are free-form objects (the trainer copies its whole options
 * object into `training`). `obsDim` and the input's last axis are the codec's dimension.
 */
export const modelCardSchema = z
  .object({
    cardVersion: z.literal(MODEL_CARD_VERSION).describe("Version of the card format."),
    description: z.string().optional().describe("One line on what the model is."),
    codec: codecNameSchema.describe(
      "State codec of the input vector, a registered one (harness/core/codecs.ts): obs-v1 (9 floats), obs-v2 (25).",
    ),
    obsDim: z
      .int()
      .positive()
      .describe("Length of the input vector; the codec's dimension (9 for obs-v1, 25 for obs-v2)."),
    actionNames: actionNamesSchema.describe("Action names by output index; must equal ACTION_NAMES."),
    actionMask: z
      .enum(ACTION_MASKS)
      .default("none")
      .describe(
        "guard: the model was trained choosing only among the actions the guard's limits allow (allowedActions, harness/core/guard.ts), and the rl policy decides the same way; none (default): among every action.",
      ),
    file: z.string().min(1).describe("File name of the ONNX model this card describes (no folder)."),
    sha256: z.string().regex(SHA256, "a lowercase hex sha256 (64 characters)").describe("sha256 of the ONNX file."),
    inputs: z.array(tensorSchema).length(1).describe("The model's one input: float32 [batch or 1, obsDim]."),
    outputs: z.array(outputSchema).min(1).describe("Every output of the model, in graph order, with its role."),
    training: z.record(z.string(), z.unknown()).describe("Training options, in full (free-form)."),
    seed: z.int().describe("Training seed."),
    steps: z.int().nonnegative().describe("Environment steps trained."),
    wallTimeS: z.number().nonnegative().describe("Training wall time, seconds."),
    evaluation: z.record(z.string(), z.unknown()).describe("Evaluation results (free-form)."),
    createdAt: z.iso.datetime().optional().describe("When the model was written (ISO 8601)."),
  })
  .strict()
  .superRefine((card, ctx) => {
    // Sizes follow the codec: a card whose numbers disagree with its codec would feed the model a wrong vector.
    const dim = dimOf(card.codec);
    if (dim === null) return;
    if (card.obsDim !== dim) {
      ctx.addIssue({ code: "custom", path: ["obsDim"], input: card.obsDim, message: String(dim) });
    }
    const shape = card.inputs[0]?.shape;
    const last = shape?.[shape.length - 1];
    if (shape !== undefined && last !== dim) {
      ctx.addIssue({
        code: "custom",
        path: ["inputs", 0, "shape", shape.length - 1],
        input: last,
        message: `${dim} (the input's last axis is the ${card.codec} state)`,
      });
    }
  });

export type ModelCardInput = z.input<typeof modelCardSchema>;
export type ModelCard = z.output<typeof modelCardSchema>;
export type CardTensor = z.output<typeof tensorSchema>;
export type CardOutput = z.output<typeof outputSchema>;

/** Where the card of `onnxPath` lives: the same name with `.json` for `.onnx`. */
export function cardPathFor(onnxPath: string): string {
  return onnxPath.endsWith(".onnx") ? `${onnxPath.slice(0, -".onnx".length)}.json` : `${onnxPath}.json`;
}

export type CardParseResult =
  | { readonly success: true; readonly card: ModelCard }
  | { readonly success: false; readonly issues: readonly string[] };

/**
 * Validates a parsed card JSON. Issues read "Expected `steps` to be >= 0, got -1 (number)",
 * one per problem, paths in dotted form (`outputs[1].role`).
 */
export function parseModelCard(json: unknown): CardParseResult {
  const parsed = modelCardSchema.safeParse(json, { reportInput: true });
  if (parsed.success) return { success: true, card: parsed.data };
  return { success: false, issues: parsed.error.issues.map(formatCardIssue) };
}

/** sha256 of bytes, lowercase hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Writes the card of `onnxPath` beside it (see {@link cardPathFor}), filling `file` and
 * `sha256` from the ONNX file as it is on disk, `obsDim` from the codec (obs-v1 when
 * `fields.codec` is absent), and validating the result; throws with every issue when the
 * card is invalid. Returns the card and where it went.
 */
export function writeModelCard(
  onnxPath: string,
  fields: Omit<ModelCardInput, "file" | "sha256" | "cardVersion" | "codec" | "obsDim" | "actionNames"> & {
    readonly codec?: string;
  },
): { readonly card: ModelCard; readonly path: string } {
  const bytes = readFileSync(onnxPath);
  const { codec: codecName, ...rest } = fields;
  const codec = codecByName(codecName ?? DEFAULT_CODEC);
  const result = parseModelCard({
    cardVersion: MODEL_CARD_VERSION,
    codec: codec.name,
    obsDim: codec.dim,
    actionNames: [...ACTION_NAMES],
    file: basename(onnxPath),
    sha256: sha256Hex(bytes),
    ...rest,
  });
  if (!result.success) {
    throw new Error(
      `Refusing to write an invalid model card for ${onnxPath}:\n${result.issues.map((i) => `  ✖ ${i}`).join("\n")}`,
    );
  }
  const path = cardPathFor(onnxPath);
  writeFileSync(path, `${JSON.stringify(result.card, null, 2)}\n`);
  return { card: result.card, path };
}

// ---------------------------------------------------------------------------
// Issue messages

type Issue = z.core.$ZodIssue;

function formatCardIssue(iss: Issue): string {
  const at = `\`${iss.path.length === 0 ? "card" : pathText(iss.path)}\``;
  const input = (iss as { input?: unknown }).input;
  switch (iss.code) {
    case "invalid_type":
      if (input === undefined) return `Expected ${at} to be ${typeName(iss.expected)}, got nothing (missing key)`;
      return `Expected ${at} to be ${typeName(iss.expected)}, got ${show(input)}`;
    case "invalid_value":
      return `Expected ${at} to be ${iss.values.map((v) => JSON.stringify(v)).join(" or ")}, got ${show(input)}`;
    case "too_small":
    case "too_big": {
      const small = iss.code === "too_small";
      const bound = small ? iss.minimum : iss.maximum;
      if (iss.origin === "array") {
        const n = Number(bound);
        const side = iss.exact ? "exactly" : small ? "at least" : "at most";
        return `Expected ${at} to have ${side} ${n} ${n === 1 ? "entry" : "entries"}, got ${show(input)}`;
      }
      if (iss.origin === "string") return `Expected ${at} to be a non-empty string, got ${show(input)}`;
      const op = small ? (iss.inclusive ? ">=" : ">") : iss.inclusive ? "<=" : "<";
      return `Expected ${at} to be ${op} ${String(bound)}, got ${show(input)}`;
    }
    case "invalid_format":
    case "custom":
      return `Expected ${at} to be ${iss.message}, got ${show(input)}`;
    case "unrecognized_keys": {
      const values = input !== null && typeof input === "object" ? (input as Record<string, unknown>) : {};
      const got = iss.keys.map((k) => `\`${k}\`: ${show(values[k])}`).join(", ");
      return `Expected ${at} to have no key ${iss.keys.map((k) => `\`${k}\``).join(", ")} (unknown to the card format), got ${got}`;
    }
    case "invalid_union":
      return `Expected ${at} to be a size (integer >= 0) or an axis name (string), got ${show(input)}`;
    default:
      return `Expected ${at} to be valid (${iss.message}), got ${show(input)}`;
  }
}

function pathText(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

function typeName(expected: string): string {
  switch (expected) {
    case "int":
      return "an integer";
    case "object":
    case "array":
      return `an ${expected}`;
    case "record":
      return "an object";
    default:
      return `a ${expected}`;
  }
}

/** `"obs-v2" (string)`, shortened past 100 characters. */
function show(value: unknown): string {
  const type = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
  let text = value === undefined ? "undefined" : JSON.stringify(value);
  if (text.length > 100) text = `${text.slice(0, 97)}...`;
  return `${text} (${type})`;
}
