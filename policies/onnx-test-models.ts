/**
 * Tiny ONNX MLPs written from code, for the loader's tests and the ONNX benchmark: a
 * seeded tanh MLP with any mix of the outputs an exporter may produce (logits,
 * probabilities, value, action, log-prob), a dynamic or fixed batch axis, and any input
 * size, so that every acceptance and refusal path of policies/onnx-model.ts can be tried
 * without Python. A JS forward pass in float64 is returned beside the bytes as the
 * reference.
 *
 * This is not the trainer's exporter (policies/ppo/ writes the committed model); it
 * encodes the few protobuf messages of onnx.proto it needs by hand (ModelProto,
 * GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto), opset 17.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { ACTION_COUNT } from "../harness/core/contract.ts";
import type { OutputRole } from "./model-card.ts";

/** The Stable-Baselines3 exports of policies/fixtures/sb3/ (README.md there says what each output is). */
export const SB3_FIXTURES = {
  /** The extractor recipe: logits float32 [1,5], value float32 [1,1]. */
  extractor: fileURLToPath(new URL("./fixtures/sb3/sb3_ppo_k8s.onnx", import.meta.url)),
  /** The whole-policy recipe: action int64 [1], value float32 [1,1], log-prob float32 [1]. */
  policy: fileURLToPath(new URL("./fixtures/sb3/sb3_ppo_k8s_policy.onnx", import.meta.url)),
} as const;

/** One test vector: an observation and what SB3 made of it. */
export interface Sb3Vector {
  readonly observation: number[];
  /** `predict(deterministic=True)`. */
  readonly sb3_predict_deterministic: number;
  readonly action_logits: number[];
  readonly value: number;
  /** Policy recipe only: the exported action and its log-probability. */
  readonly action?: number;
  readonly log_prob?: number;
}

/** The `*.testvectors.json` beside an SB3 fixture. */
export function readSb3Vectors(onnxPath: string): {
  readonly model: Record<string, unknown>;
  readonly vectors: Sb3Vector[];
} {
  return JSON.parse(readFileSync(`${onnxPath}.testvectors.json`, "utf8"));
}

export interface MlpSpec {
  /** Input width. @default 9 */
  readonly inputDim?: number;
  /** Hidden layer widths (tanh). @default [64, 64] */
  readonly hidden?: readonly number[];
  /** Batch axis: a name for a dynamic axis, or a fixed size. @default "batch" */
  readonly batch?: string | number;
  /** Input element type. @default "float32" */
  readonly inputType?: "float32" | "float64";
  /** Rank of the input: 2 is [batch, dim], 1 is [dim] (refused by the loader). @default 2 */
  readonly inputRank?: 1 | 2;
  /** Outputs in graph order. `action` is the argmax as int64 [batch]; `log-prob` its log-probability [batch]. @default ["logits", "value"] */
  readonly outputs?: readonly OutputRole[];
  /** Output names, as numbers the way torch.onnx names them when omitted. */
  readonly outputNames?: readonly string[];
  /** Input name. @default "obs" */
  readonly inputName?: string;
  /** Seeds the weights. @default 1 */
  readonly seed?: number;
  /** Scale of the last layer's weights (larger: more peaked action probabilities). @default 1 */
  readonly headScale?: number;
}

export interface MlpModel {
  readonly bytes: Uint8Array;
  readonly inputName: string;
  readonly outputNames: readonly string[];
  /** Reference forward pass (float64) of one observation: logits, probabilities, value. */
  forward(obs: ArrayLike<number>): { logits: number[]; probs: number[]; value: number };
}

interface Dense {
  readonly w: Float32Array; // [in, out], row-major (ONNX Gemm's B)
  readonly b: Float32Array;
  readonly n: number;
  readonly m: number;
}

/** Builds the model described by `spec`. */
export function buildMlpOnnx(spec: MlpSpec = {}): MlpModel {
  const inputDim = spec.inputDim ?? 9;
  const hidden = spec.hidden ?? [64, 64];
  const batch = spec.batch ?? "batch";
  const roles = spec.outputs ?? ["logits", "value"];
  const inputName = spec.inputName ?? "obs";
  const outputNames = spec.outputNames ?? roles.map((_, i) => String(20 + i));
  const rng = xoroshiro128plus(spec.seed ?? 1);
  const uniform = () => (rng.next() >>> 0) / 0x1_0000_0000;
  const dense = (n: number, m: number, scale: number): Dense => {
    // Glorot-uniform weights, small random biases: distinct, non-degenerate outputs.
    const limit = Math.sqrt(6 / (n + m)) * scale;
    const w = Float32Array.from({ length: n * m }, () => (uniform() * 2 - 1) * limit);
    const b = Float32Array.from({ length: m }, () => (uniform() * 2 - 1) * 0.1 * scale);
    return { w, b, n, m };
  };
  const layers: Dense[] = [];
  let width = inputDim;
  for (const h of hidden) {
    layers.push(dense(width, h, 1));
    width = h;
  }
  const policyHead = dense(width, ACTION_COUNT, spec.headScale ?? 1);
  const valueHead = dense(width, 1, 1);

  // --- graph
  const nodes: Uint8Array[] = [];
  const inits: Uint8Array[] = [];
  let x = inputName;
  if (spec.inputType === "float64") {
    nodes.push(node("Cast", [x], ["obs_f32"], [attrInt("to", DataType.Float)]));
    x = "obs_f32";
  }
  if ((spec.inputRank ?? 2) === 1) {
    inits.push(tensorInt64("unsqueeze_axes", [1], [0]));
    nodes.push(node("Unsqueeze", [x, "unsqueeze_axes"], ["obs_2d"]));
    x = "obs_2d";
  }
  const gemm = (input: string, d: Dense, name: string) => {
    inits.push(tensorFloat(`${name}.weight`, [d.n, d.m], d.w), tensorFloat(`${name}.bias`, [d.m], d.b));
    nodes.push(node("Gemm", [input, `${name}.weight`, `${name}.bias`], [`${name}.out`]));
    return `${name}.out`;
  };
  layers.forEach((d, i) => {
    const y = gemm(x, d, `fc${i}`);
    nodes.push(node("Tanh", [y], [`tanh${i}`]));
    x = `tanh${i}`;
  });
  const logits = gemm(x, policyHead, "action_net");
  const value = gemm(x, valueHead, "value_net");
  const outputs: Uint8Array[] = [];
  const batchDims = (rest: number[]) => [batch, ...rest];
  roles.forEach((role, i) => {
    const name = outputNames[i]!;
    switch (role) {
      case "logits":
        nodes.push(node("Identity", [logits], [name]));
        outputs.push(valueInfo(name, DataType.Float, batchDims([ACTION_COUNT])));
        break;
      case "probabilities":
        nodes.push(node("Softmax", [logits], [name], [attrInt("axis", 1)]));
        outputs.push(valueInfo(name, DataType.Float, batchDims([ACTION_COUNT])));
        break;
      case "value":
        nodes.push(node("Identity", [value], [name]));
        outputs.push(valueInfo(name, DataType.Float, batchDims([1])));
        break;
      case "action":
        nodes.push(node("ArgMax", [logits], [name], [attrInt("axis", 1), attrInt("keepdims", 0)]));
        outputs.push(valueInfo(name, DataType.Int64, batchDims([])));
        break;
      case "log-prob":
        nodes.push(node("LogSoftmax", [logits], [`${name}.ls`], [attrInt("axis", 1)]));
        nodes.push(node("ReduceMax", [`${name}.ls`], [name], [attrInts("axes", [1]), attrInt("keepdims", 0)]));
        outputs.push(valueInfo(name, DataType.Float, batchDims([])));
        break;
    }
  });
  const inputShape = (spec.inputRank ?? 2) === 1 ? [inputDim] : [batch, inputDim];
  const inputType = spec.inputType === "float64" ? DataType.Double : DataType.Float;
  const graph = concat([
    ...nodes.map((n) => field(1, n)),
    str(2, "mlp"),
    ...inits.map((t) => field(5, t)),
    field(11, valueInfo(inputName, inputType, inputShape)),
    ...outputs.map((o) => field(12, o)),
  ]);
  const bytes = concat([
    varintField(1, 8), // ir_version
    str(2, "chaos-rl-harness test model"),
    field(7, graph),
    field(8, concat([str(1, ""), varintField(2, 17)])), // opset_import: ai.onnx 17
  ]);

  return {
    bytes,
    inputName,
    outputNames,
    forward(obs) {
      let h = Array.from({ length: inputDim }, (_, i) => obs[i] ?? 0);
      for (const d of layers) h = affine(h, d).map(Math.tanh);
      const l = affine(h, policyHead);
      const max = Math.max(...l);
      const e = l.map((v) => Math.exp(v - max));
      const sum = e.reduce((a, b) => a + b, 0);
      return { logits: l, probs: e.map((v) => v / sum), value: affine(h, valueHead)[0]! };
    },
  };
}

function affine(x: readonly number[], d: Dense): number[] {
  const y = Array.from(d.b, Number);
  for (let i = 0; i < d.n; i++) {
    for (let j = 0; j < d.m; j++) y[j]! += x[i]! * d.w[i * d.m + j]!;
  }
  return y;
}

// ---------------------------------------------------------------------------
// Protobuf wire format for the onnx.proto messages used above

const DataType = { Float: 1, Int64: 7, Double: 11 } as const;
const AttrType = { Int: 2, Ints: 7 } as const;
const utf8 = new TextEncoder();

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A length-delimited field (wire type 2). */
function field(num: number, payload: Uint8Array): Uint8Array {
  return concat([Uint8Array.from([...varint((num << 3) | 2), ...varint(payload.length)]), payload]);
}

/** A varint field (wire type 0); non-negative values only. */
function varintField(num: number, value: number): Uint8Array {
  return Uint8Array.from([...varint(num << 3), ...varint(value)]);
}

function str(num: number, s: string): Uint8Array {
  return field(num, utf8.encode(s));
}

function node(op: string, inputs: readonly string[], outputs: readonly string[], attrs: Uint8Array[] = []) {
  return concat([
    ...inputs.map((i) => str(1, i)),
    ...outputs.map((o) => str(2, o)),
    str(3, `${op}_${outputs[0]}`),
    str(4, op),
    ...attrs.map((a) => field(5, a)),
  ]);
}

function attrInt(name: string, value: number): Uint8Array {
  return concat([str(1, name), varintField(3, value), varintField(20, AttrType.Int)]);
}

function attrInts(name: string, values: readonly number[]): Uint8Array {
  return concat([str(1, name), ...values.map((v) => varintField(8, v)), varintField(20, AttrType.Ints)]);
}

function tensorFloat(name: string, dims: readonly number[], data: Float32Array): Uint8Array {
  const raw = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  return concat([...dims.map((d) => varintField(1, d)), varintField(2, DataType.Float), str(8, name), field(9, raw)]);
}

function tensorInt64(name: string, dims: readonly number[], data: readonly number[]): Uint8Array {
  return concat([
    ...dims.map((d) => varintField(1, d)),
    varintField(2, DataType.Int64),
    ...data.map((v) => varintField(7, v)),
    str(8, name),
  ]);
}

function valueInfo(name: string, elemType: number, shape: readonly (string | number)[]): Uint8Array {
  const dims = shape.map((d) => field(1, typeof d === "number" ? varintField(1, d) : str(2, d)));
  const tensorType = concat([varintField(1, elemType), field(2, concat(dims))]);
  return concat([str(1, name), field(2, field(1, tensorType))]);
}
