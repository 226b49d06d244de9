/**
 * Loads a policy network from an ONNX file with onnxruntime-node and turns its outputs into
 * decisions. The model reads the state codec its card names (any registered codec,
 * harness/core/codecs.ts: obs-v1's 9 floats, obs-v2's 25); a model without a card is taken
 * as obs-v1, the contract's codec that SB3 exports use, and its input must be 9 wide. Works with our own exports (with a model card) and with
 * policies exported from Stable-Baselines3 (usually without one), whose output names are
 * torch's generated numbers: outputs are identified by type and shape, never by name.
 *
 * | output                          | identified as                                      |
 * | ------------------------------- | -------------------------------------------------- |
 * | float [B, 5]                    | per-action scores: probabilities or logits         |
 * | float [B, 1]                    | state value (optional)                             |
 * | int64/int32 [B] or [B, 1]       | an action id computed by the model                 |
 * | float [B]                       | that action's log-probability (with an action output) |
 *
 * `B` is a named (dynamic) axis or 1. Scores are probabilities when every probe row is in
 * [0, 1] and sums to 1 (or when the card says so), logits otherwise (softmax applied).
 * The decision is the argmax of the scores (ties to the lowest id) when the model has
 * them, else the model's own action; confidence is the chosen action's probability
 * (exp(log-prob) for an action-only model with a log-prob output, else 1).
 *
 * Refusals are {@link ModelError}s with a stable {@link ModelErrorCode} and a message that
 * names the file; policies/README.md lists them.
 */
import { readFile } from "node:fs/promises";
import type { InferenceSession } from "onnxruntime-node";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { codecByName, codecNames, DEFAULT_CODEC, type StateCodec } from "../harness/core/codecs.ts";
import { ACTION_COUNT } from "../harness/core/contract.ts";
import type { ErrorCode } from "../harness/core/errors.ts";
import { type CardOutput, cardPathFor, type ModelCard, parseModelCard, sha256Hex } from "./model-card.ts";

/** Why a model was refused; stable, for tests and logs. */
export const ModelErrorCode = {
  /** The ONNX file does not exist. */
  ModelNotFound: "ModelNotFound",
  /** onnxruntime could not load the file. */
  ModelUnreadable: "ModelUnreadable",
  /** The card is not JSON or fails the card schema. */
  CardInvalid: "CardInvalid",
  /**
   * The card names a codec that is not registered, or another than the caller feeds
   * (`LoadOptions.codec`), or one whose dimension is not the model's input width.
   */
  CodecMismatch: "CodecMismatch",
  /** The card's sha256 is not the ONNX file's: the card describes another file. */
  ChecksumMismatch: "ChecksumMismatch",
  /** The card's inputs or outputs are not the model's. */
  CardMismatch: "CardMismatch",
  /** The model's input is not float32 [N or 1, dim] (dim: the card's codec's; 9 without a card). */
  InputMismatch: "InputMismatch",
  /** No output is per-action scores [B, 5] or an action id. */
  OutputsUnrecognised: "OutputsUnrecognised",
  /** A card is required (`requireCard`) and there is none. */
  CardMissing: "CardMissing",
} as const satisfies Record<string, ErrorCode>;
export type ModelErrorCode = (typeof ModelErrorCode)[keyof typeof ModelErrorCode];

export class ModelError extends Error {
  override readonly name = "ModelError";
  constructor(
    readonly code: ModelErrorCode,
    /** The ONNX file concerned, as given to the loader. */
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

/** Where load warnings go (besides {@link OnnxPolicyModel.warnings}). */
export interface ModelLogger {
  warn(message: string): void;
}

export interface LoadOptions {
  /** Receives each warning as it is found. @default none: read `model.warnings` */
  readonly logger?: ModelLogger;
  /** Refuse a model without a card (`CardMissing`). @default false */
  readonly requireCard?: boolean;
  /**
   * The codec the caller will feed (e.g. the rl policy's `codec` parameter): a card naming
   * another is refused (`CodecMismatch`), and a model without a card is taken as this one.
   * @default the card's codec; obs-v1 without a card
   */
  readonly codec?: string;
  /**
   * onnxruntime intra-op threads. @default 1: a 9-64-64-5 MLP gains nothing from more, and
   * the runner already runs one worker per core.
   */
  readonly threads?: number;
}

/** One tensor of the model as onnxruntime reports it. */
export interface TensorInfo {
  readonly name: string;
  readonly type: string;
  /** Sizes, or names of dynamic axes ("" when unnamed). */
  readonly shape: readonly (number | string)[];
}

export type ScoreKind = "logits" | "probabilities";

/** How the loader reads the model: which output is what. */
export interface ModelIo {
  readonly input: TensorInfo;
  /** "dynamic" when the batch axis is named; 1 when fixed (then batches run row by row). */
  readonly batch: "dynamic" | 1;
  readonly scores: { readonly name: string; readonly kind: ScoreKind } | null;
  readonly value: string | null;
  readonly action: string | null;
  readonly logProb: string | null;
  /** Outputs the loader does not use. */
  readonly ignored: readonly string[];
}

/** One decision, as {@link OnnxPolicyModel.decide} fills it (the object is reused). */
export interface ModelDecision {
  action: number;
  confidence: number;
  /** Probability of each action (length 5), or null for an action-only model. */
  probs: Float32Array | null;
  /** The value head's estimate, or NaN without one. */
  value: number;
}

/** Decisions for a batch of states, row by row. */
export interface BatchDecisions {
  readonly actions: Uint8Array;
  readonly confidence: Float32Array;
  /** Row-major [n, 5], or null for an action-only model. */
  readonly probs: Float32Array | null;
  /** [n], or null without a value head. */
  readonly value: Float32Array | null;
}

type Ort = typeof import("onnxruntime-node");
type Results = InferenceSession.ReturnType;

let ortModule: Promise<Ort> | null = null;
/** onnxruntime-node is loaded on first use only: importing the registry must not load a native library. */
function ort(): Promise<Ort> {
  ortModule ??= import("onnxruntime-node");
  return ortModule;
}

/**
 * Loads and checks the ONNX model at `file` and its card (`cardPathFor(file)`), if any.
 * Throws {@link ModelError} when the model cannot serve decisions on its card's codec.
 */
export async function loadOnnxModel(file: string, options: LoadOptions = {}): Promise<OnnxPolicyModel> {
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    options.logger?.warn(message);
  };

  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new ModelError(ModelErrorCode.ModelNotFound, file, `Model file ${file} not found`);
    }
    throw err;
  }
  const sha256 = sha256Hex(bytes);
  const card = await readCard(file, sha256, options, warn);
  const codec = codecByName(card?.codec ?? options.codec ?? DEFAULT_CODEC);

  const { InferenceSession, Tensor } = await ort();
  let session: InferenceSession;
  try {
    session = await InferenceSession.create(bytes, {
      intraOpNumThreads: options.threads ?? 1,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
      logSeverityLevel: 3,
    });
  } catch (err) {
    throw new ModelError(
      ModelErrorCode.ModelUnreadable,
      file,
      `${file}: onnxruntime cannot load it: ${err instanceof Error ? err.message : String(err)}`,
    );
  }

  try {
    const input = checkInput(file, session, codec, card !== null);
    const outputs = session.outputMetadata.map(tensorInfo);
    const found = identifyOutputs(file, outputs);
    if (card) checkCardAgainstModel(file, card, input.info, outputs, found);
    for (const name of found.ignored) {
      const o = outputs.find((x) => x.name === name)!;
      warn(`${file}: output "${name}" (${describeTensor(o)}) is not a known kind; ignored`);
    }
    const io: Omit<ModelIo, "scores"> & { scores: { name: string; kind: ScoreKind } | null } = {
      input: input.info,
      batch: input.batch,
      ...found,
      scores: found.scores === null ? null : { name: found.scores, kind: "logits" },
    };
    const model = new OnnxPolicyModel(file, sha256, card, codec, warnings, io, session, Tensor);
    if (io.scores) {
      const declared = card?.outputs.find((o) => o.name === io.scores!.name)?.role;
      io.scores.kind = declared === "probabilities" || declared === "logits" ? declared : await model.probeScoreKind();
    }
    if (!card) {
      warn(
        `${file}: no model card (${cardPathFor(file)}); accepted because its input is ${describeTensor(input.info)}. ` +
          `Outputs by type and shape: ${describeIo(io)}. Write a card to pin its codec and provenance.`,
      );
    }
    return model;
  } catch (err) {
    await session.release();
    throw err;
  }
}

/** Decides one state at a time, with buffers of its own; the returned object is reused by the next call. */
export type Decider = (state: Float32Array) => Promise<ModelDecision>;

/**
 * A loaded model. Decisions are asynchronous: onnxruntime-node's public
 * `InferenceSession.run` returns a Promise (it runs the native call on a later turn of the
 * event loop).
 */
export class OnnxPolicyModel {
  /** @internal use {@link loadOnnxModel} */
  constructor(
    /** The file as given to the loader. */
    readonly file: string,
    /** sha256 of the ONNX bytes that were loaded. */
    readonly sha256: string,
    /** The validated card, or null when the file has none. */
    readonly card: ModelCard | null,
    /** The state codec the model reads: its card's, obs-v1 (or `LoadOptions.codec`) without one. */
    readonly codec: StateCodec,
    /** What the loader warned about (no card, ignored outputs). */
    readonly warnings: readonly string[],
    readonly io: ModelIo,
    private readonly session: InferenceSession,
    private readonly TensorCtor: Ort["Tensor"],
  ) {}

  /**
   * A decision function with its own input tensor and result object, allocating nothing
   * per call beyond what onnxruntime returns. The native run reads the input on a later
   * turn of the event loop, so await each call before the next on the same decider; make
   * one decider per user (the rl policy makes one per policy instance).
   */
  decider(): Decider {
    const dim = this.codec.dim;
    const obs = new Float32Array(dim);
    const feeds = { [this.io.input.name]: new this.TensorCtor("float32", obs, [1, dim]) };
    const decision: ModelDecision = {
      action: 0,
      confidence: 0,
      probs: this.io.scores ? new Float32Array(ACTION_COUNT) : null,
      value: Number.NaN,
    };
    return async (state) => {
      obs.set(state.length === dim ? state : state.subarray(0, dim));
      this.read(await this.session.run(feeds), 0, decision);
      return decision;
    };
  }

  /** Decides for one state of the model's codec (length `codec.dim`), into a fresh object. */
  decide(state: Float32Array): Promise<ModelDecision> {
    return this.decider()(state);
  }

  /** Decides for `n` states stored row-major in `states` ([n, codec.dim]). One run when the batch axis is dynamic. */
  async decideBatch(states: Float32Array, n: number): Promise<BatchDecisions> {
    const dim = this.codec.dim;
    if (states.length < n * dim) {
      throw new RangeError(`Expected ${n * dim} floats for ${n} states, got ${states.length}`);
    }
    const out: BatchDecisions = {
      actions: new Uint8Array(n),
      confidence: new Float32Array(n),
      probs: this.io.scores ? new Float32Array(n * ACTION_COUNT) : null,
      value: this.io.value ? new Float32Array(n) : null,
    };
    const store = (i: number, d: ModelDecision) => {
      out.actions[i] = d.action;
      out.confidence[i] = d.confidence;
      if (out.probs && d.probs) out.probs.set(d.probs, i * ACTION_COUNT);
      if (out.value) out.value[i] = d.value;
    };
    if (this.io.batch === "dynamic") {
      const tensor = new this.TensorCtor("float32", states.subarray(0, n * dim), [n, dim]);
      const results = await this.session.run({ [this.io.input.name]: tensor });
      const row: ModelDecision = {
        action: 0,
        confidence: 0,
        probs: this.io.scores ? new Float32Array(ACTION_COUNT) : null,
        value: Number.NaN,
      };
      for (let i = 0; i < n; i++) {
        this.read(results, i, row);
        store(i, row);
      }
    } else {
      const decide = this.decider();
      for (let i = 0; i < n; i++) store(i, await decide(states.subarray(i * dim, (i + 1) * dim)));
    }
    return out;
  }

  /** Releases the native session. */
  async dispose(): Promise<void> {
    await this.session.release();
  }

  /**
   * Probabilities or logits? Runs fixed probe states (zeros, halves, ones and 13 seeded
   * uniform states): probabilities when every row is in [0, 1] and sums to 1 within 1e-4.
   * @internal
   */
  async probeScoreKind(): Promise<ScoreKind> {
    const n = 16;
    const dim = this.codec.dim;
    const states = new Float32Array(n * dim);
    const rng = xoroshiro128plus(0x0b5e);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < dim; j++) {
        states[i * dim + j] = i === 0 ? 0 : i === 1 ? 0.5 : i === 2 ? 1 : (rng.next() >>> 0) / 0x1_0000_0000;
      }
    }
    const name = this.io.scores!.name;
    const rows: ArrayLike<number>[] = [];
    if (this.io.batch === "dynamic") {
      const r = await this.session.run({
        [this.io.input.name]: new this.TensorCtor("float32", states, [n, dim]),
      });
      const data = r[name]!.data as Float32Array;
      for (let i = 0; i < n; i++) rows.push(data.subarray(i * ACTION_COUNT, (i + 1) * ACTION_COUNT));
    } else {
      for (let i = 0; i < n; i++) {
        const row = states.subarray(i * dim, (i + 1) * dim);
        const r = await this.session.run({
          [this.io.input.name]: new this.TensorCtor("float32", row, [1, dim]),
        });
        rows.push(r[name]!.data as Float32Array);
      }
    }
    const isDistribution = (row: ArrayLike<number>) => {
      let sum = 0;
      for (let k = 0; k < ACTION_COUNT; k++) {
        const p = row[k]!;
        if (!(p >= 0 && p <= 1)) return false;
        sum += p;
      }
      return Math.abs(sum - 1) <= 1e-4;
    };
    return rows.every(isDistribution) ? "probabilities" : "logits";
  }

  /** Turns row `i` of a run's results into a decision. */
  private read(results: Results, i: number, out: ModelDecision): void {
    const { scores, action, logProb, value } = this.io;
    out.value = value ? Number(results[value]!.data[i]) : Number.NaN;
    if (scores) {
      const s = results[scores.name]!.data as Float32Array | Float64Array;
      const base = i * ACTION_COUNT;
      // Argmax of the raw scores (softmax is monotonic): exactly SB3's deterministic choice.
      let best = 0;
      for (let k = 1; k < ACTION_COUNT; k++) if (s[base + k]! > s[base + best]!) best = k;
      const probs = out.probs!;
      if (scores.kind === "probabilities") {
        for (let k = 0; k < ACTION_COUNT; k++) probs[k] = s[base + k]!;
      } else {
        const max = s[base + best]!;
        let sum = 0;
        for (let k = 0; k < ACTION_COUNT; k++) sum += Math.exp(s[base + k]! - max);
        for (let k = 0; k < ACTION_COUNT; k++) probs[k] = Math.exp(s[base + k]! - max) / sum;
      }
      out.action = best;
      out.confidence = probs[best]!;
      return;
    }
    const a = Number(results[action!]!.data[i]);
    if (!(Number.isInteger(a) && a >= 0 && a < ACTION_COUNT)) {
      throw new Error(`${this.file}: model output "${action}" proposed action ${a}, outside 0..${ACTION_COUNT - 1}`);
    }
    out.action = a;
    out.confidence = logProb ? Math.min(1, Math.exp(Number(results[logProb]!.data[i]))) : 1;
  }
}

// ---------------------------------------------------------------------------
// Card, input and outputs

async function readCard(
  file: string,
  sha256: string,
  options: LoadOptions,
  warn: (m: string) => void,
): Promise<ModelCard | null> {
  const cardFile = cardPathFor(file);
  let text: string;
  try {
    text = await readFile(cardFile, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    if (options.requireCard) {
      throw new ModelError(ModelErrorCode.CardMissing, file, `${file}: Expected a model card at ${cardFile}, got none`);
    }
    return null;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelError(
      ModelErrorCode.CardInvalid,
      file,
      `${file}: model card ${cardFile} is not JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  // The codec first: a model of a codec nobody can feed is refused as such, whatever else its card says.
  const codec = (json as { codec?: unknown } | null)?.codec;
  if (typeof codec === "string" && !codecNames().includes(codec)) {
    const known = codecNames()
      .map((n) => `"${n}"`)
      .join(" or ");
    throw new ModelError(
      ModelErrorCode.CodecMismatch,
      file,
      `${file}: Expected \`codec\` of model card ${cardFile} to be a registered state codec (${known}), got "${codec}" (string)`,
    );
  }
  if (typeof codec === "string" && options.codec !== undefined && codec !== options.codec) {
    const want = codecByName(options.codec);
    throw new ModelError(
      ModelErrorCode.CodecMismatch,
      file,
      `${file}: Expected \`codec\` of model card ${cardFile} to be "${want.name}" (the ${want.dim}-float state it will be fed), got "${codec}" (string)`,
    );
  }
  const parsed = parseModelCard(json);
  if (!parsed.success) {
    throw new ModelError(
      ModelErrorCode.CardInvalid,
      file,
      `${file}: invalid model card ${cardFile}:\n${parsed.issues.map((i) => `  ✖ ${i}`).join("\n")}`,
    );
  }
  const card = parsed.card;
  if (card.sha256 !== sha256) {
    throw new ModelError(
      ModelErrorCode.ChecksumMismatch,
      file,
      `${file}: Expected sha256 ${card.sha256} (from ${cardFile}), got ${sha256}: the card describes another file`,
    );
  }
  const base = file.split(/[\\/]/).pop();
  if (card.file !== base) warn(`${file}: its card names file "${card.file}"; the checksum matches, so it is used`);
  return card;
}

function tensorInfo(m: InferenceSession.ValueMetadata): TensorInfo {
  return m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name, type: "non-tensor", shape: [] };
}

function checkInput(
  file: string,
  session: InferenceSession,
  codec: StateCodec,
  fromCard: boolean,
): { info: TensorInfo; batch: "dynamic" | 1 } {
  const expected = `float32 [N or 1, ${codec.dim}] (the ${codec.name} state${fromCard ? " its card names" : ""})`;
  if (session.inputMetadata.length !== 1) {
    const got = session.inputMetadata.map((m) => `"${m.name}" ${describeTensor(tensorInfo(m))}`).join(", ");
    throw new ModelError(
      ModelErrorCode.InputMismatch,
      file,
      `${file}: Expected one input, ${expected}, got ${session.inputMetadata.length}: ${got}`,
    );
  }
  const info = tensorInfo(session.inputMetadata[0]!);
  const [b, d] = info.shape;
  const batchOk = typeof b === "string" || b === 1;
  if (info.type !== "float32" || info.shape.length !== 2 || !batchOk || d !== codec.dim) {
    // A float32 [N, d] model whose card names a codec of another width: the card's codec is wrong for it.
    const widthOnly = fromCard && info.type === "float32" && info.shape.length === 2 && batchOk;
    throw new ModelError(
      widthOnly ? ModelErrorCode.CodecMismatch : ModelErrorCode.InputMismatch,
      file,
      `${file}: Expected input \`${info.name}\` to be ${expected}, got ${describeTensor(info)}`,
    );
  }
  return { info, batch: typeof b === "string" ? "dynamic" : 1 };
}

type Found = Omit<ModelIo, "input" | "batch" | "scores"> & { scores: string | null };

function identifyOutputs(file: string, outputs: readonly TensorInfo[]): Found {
  const isFloat = (o: TensorInfo) => o.type === "float32" || o.type === "float64";
  const isInt = (o: TensorInfo) => o.type === "int64" || o.type === "int32";
  let scores: string | null = null;
  let value: string | null = null;
  let action: string | null = null;
  const rank1Floats: string[] = [];
  const ignored: string[] = [];
  for (const o of outputs) {
    const [, d] = o.shape;
    if (isFloat(o) && o.shape.length === 2 && d === ACTION_COUNT && scores === null) scores = o.name;
    else if (isFloat(o) && o.shape.length === 2 && d === 1 && value === null) value = o.name;
    else if (isInt(o) && (o.shape.length === 1 || (o.shape.length === 2 && d === 1)) && action === null)
      action = o.name;
    else if (isFloat(o) && o.shape.length === 1) rank1Floats.push(o.name);
    else ignored.push(o.name);
  }
  // A float [B] is the chosen action's log-prob beside an action output (SB3's policy
  // recipe), else a value head without its trailing axis.
  let logProb: string | null = null;
  for (const name of rank1Floats) {
    if (action !== null && logProb === null) logProb = name;
    else if (action === null && value === null) value = name;
    else ignored.push(name);
  }
  if (scores === null && action === null) {
    throw new ModelError(
      ModelErrorCode.OutputsUnrecognised,
      file,
      `${file}: Expected an output of action scores, float32 [N, ${ACTION_COUNT}], or of action ids, int64 [N], got ${
        outputs.map((o) => `"${o.name}" ${describeTensor(o)}`).join(", ") || "no output"
      }`,
    );
  }
  return { scores, value, action, logProb, ignored };
}

/** The card must describe this very model: same input, same outputs in order, roles that fit their shapes. */
function checkCardAgainstModel(
  file: string,
  card: ModelCard,
  input: TensorInfo,
  outputs: readonly TensorInfo[],
  found: Found,
): void {
  const problems: string[] = [];
  const sameTensor = (
    at: string,
    c: { name: string; type: string; shape: readonly (number | string)[] },
    m: TensorInfo,
  ) => {
    const shapeOk =
      c.shape.length === m.shape.length &&
      c.shape.every((d, k) => (typeof d === "string" ? typeof m.shape[k] === "string" : d === m.shape[k]));
    if (c.name !== m.name || c.type !== m.type || !shapeOk) {
      problems.push(
        `Expected \`${at}\` to be "${m.name}" ${describeTensor(m)} (the model's), got "${c.name}" ${describeTensor(c)}`,
      );
    }
  };
  sameTensor("inputs[0]", card.inputs[0]!, input);
  if (card.outputs.length !== outputs.length) {
    problems.push(`Expected \`outputs\` to have ${outputs.length} entries (the model's), got ${card.outputs.length}`);
  } else {
    card.outputs.forEach((c: CardOutput, k) => {
      const m = outputs[k]!;
      sameTensor(`outputs[${k}]`, c, m);
      const role = roleOf(m.name, found);
      const fits = role === "scores" ? c.role === "logits" || c.role === "probabilities" : c.role === role;
      if (!fits) {
        problems.push(
          `Expected \`outputs[${k}].role\` to fit ${describeTensor(m)} (${role === "scores" ? "logits or probabilities" : (role ?? "no known role")}), got "${c.role}"`,
        );
      }
    });
  }
  if (problems.length > 0) {
    throw new ModelError(
      ModelErrorCode.CardMismatch,
      file,
      `${file}: its model card ${cardPathFor(file)} does not describe it:\n${problems.map((p) => `  ✖ ${p}`).join("\n")}`,
    );
  }
}

function roleOf(name: string, f: Found): "scores" | "value" | "action" | "log-prob" | null {
  if (name === f.scores) return "scores";
  if (name === f.value) return "value";
  if (name === f.action) return "action";
  if (name === f.logProb) return "log-prob";
  return null;
}

/** `float32 [batch, 9]`; unnamed dynamic axes print as `?`. */
export function describeTensor(t: { type: string; shape: readonly (number | string)[] }): string {
  if (t.shape.length === 0) return `${t.type} (no declared shape)`;
  return `${t.type} [${t.shape.map((d) => (d === "" ? "?" : String(d))).join(", ")}]`;
}

function describeIo(io: ModelIo): string {
  const parts: string[] = [];
  if (io.scores) parts.push(`"${io.scores.name}" ${io.scores.kind}`);
  if (io.action) parts.push(`"${io.action}" action`);
  if (io.logProb) parts.push(`"${io.logProb}" log-prob`);
  if (io.value) parts.push(`"${io.value}" value`);
  return parts.join(", ");
}

// ---------------------------------------------------------------------------
// Round trip (for the trainer's export test)

export interface RoundTripOptions {
  /** Random states to compare. @default 1000 */
  readonly samples?: number;
  /** Seeds the states (uniform in [0, 1]^dim of the model's codec). @default 1 */
  readonly seed?: number;
}

export interface RoundTripResult {
  readonly samples: number;
  /** Largest |p_onnx - p_reference| over every state and action. */
  readonly maxAbsDiff: number;
  /** States on which both pick the same argmax action. */
  readonly sameAction: number;
}

/**
 * Compares the model's action probabilities with a reference implementation (e.g. the
 * tfjs network it was exported from) on seeded random states. The issue's export test:
 * `maxAbsDiff <= 1e-5` on 1,000 states.
 */
export async function roundTrip(
  model: OnnxPolicyModel,
  reference: (states: Float32Array, n: number) => ArrayLike<number> | Promise<ArrayLike<number>>,
  options: RoundTripOptions = {},
): Promise<RoundTripResult> {
  const n = options.samples ?? 1000;
  const rng = xoroshiro128plus(options.seed ?? 1);
  const states = Float32Array.from({ length: n * model.codec.dim }, () => (rng.next() >>> 0) / 0x1_0000_0000);
  const ours = await model.decideBatch(states, n);
  if (!ours.probs) throw new Error(`${model.file}: the model has no action scores to compare`);
  const theirs = await reference(states, n);
  let maxAbsDiff = 0;
  let sameAction = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 0; k < ACTION_COUNT; k++) {
      const j = i * ACTION_COUNT + k;
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(ours.probs[j]! - theirs[j]!));
      if (theirs[j]! > theirs[i * ACTION_COUNT + best]!) best = k;
    }
    if (best === ours.actions[i]) sameAction++;
  }
  return { samples: n, maxAbsDiff, sameAction };
}
