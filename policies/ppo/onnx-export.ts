/**
 * ONNX export of a trained actor-critic, written with protobufjs from the few messages of
 * onnx.proto it needs (field numbers as in onnx/onnx.proto, IR version 8, opset 17).
 *
 * Graph (W as [out, in], so every layer is `Gemm(x, W, b, transB=1)`):
 *
 *   obs float32 [batch, dim]     (dim: the codec's, 9 for obs-v1, 25 for obs-v2)
 *     -> (normObs) Clip((obs - mean) / sqrt(var + 1e-8), -obsClip, obsClip)
 *     -> actor:  Gemm -> Tanh -> Gemm -> Tanh -> Gemm  = logits (internal)
 *                                        Softmax(axis 1) = probs  [batch, 5]
 *     -> critic: Gemm -> Tanh -> Gemm -> Tanh -> Gemm  = value  [batch, 1]
 *
 * Outputs are `probs` and `value` only: the `rl` loader tells outputs apart by shape, and
 * two [batch, 5] outputs (logits and probabilities) would be ambiguous to it. The batch
 * axis is dynamic ("batch"). The observation normalisation is inside the graph,
 * so the model takes raw codec vectors like every other policy. The codec (obs-v1 unless the
 * input says otherwise) is named in the model's metadata (`codec`) and its doc string, and
 * {@link exportInputFor} gives the input as the model card names it.
 */
import protobuf from "protobufjs";
import { codecByName, DEFAULT_CODEC } from "../../harness/core/codecs.ts";
import { ACTION_COUNT } from "../../harness/core/contract.ts";
import type { CardOutput, CardTensor } from "../model-card.ts";
// Registers the codecs: a network may be exported for any of them.
import "../codecs.ts";
import { type MlpSpec, paramLayout } from "./mlp.ts";
import { OBS_NORM_EPS } from "./obs-norm.ts";

/** onnx.proto, the subset the exporter writes (field numbers are ONNX's). */
const ONNX_PROTO = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: "int64", id: 1 },
            opsetImport: { rule: "repeated", type: "OperatorSetIdProto", id: 8 },
            producerName: { type: "string", id: 2 },
            producerVersion: { type: "string", id: 3 },
            domain: { type: "string", id: 4 },
            modelVersion: { type: "int64", id: 5 },
            docString: { type: "string", id: 6 },
            graph: { type: "GraphProto", id: 7 },
            metadataProps: { rule: "repeated", type: "StringStringEntryProto", id: 14 },
          },
        },
        OperatorSetIdProto: { fields: { domain: { type: "string", id: 1 }, version: { type: "int64", id: 2 } } },
        StringStringEntryProto: { fields: { key: { type: "string", id: 1 }, value: { type: "string", id: 2 } } },
        GraphProto: {
          fields: {
            node: { rule: "repeated", type: "NodeProto", id: 1 },
            name: { type: "string", id: 2 },
            initializer: { rule: "repeated", type: "TensorProto", id: 5 },
            docString: { type: "string", id: 10 },
            input: { rule: "repeated", type: "ValueInfoProto", id: 11 },
            output: { rule: "repeated", type: "ValueInfoProto", id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: "repeated", type: "string", id: 1 },
            output: { rule: "repeated", type: "string", id: 2 },
            name: { type: "string", id: 3 },
            opType: { type: "string", id: 4 },
            attribute: { rule: "repeated", type: "AttributeProto", id: 5 },
            domain: { type: "string", id: 7 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: "string", id: 1 },
            f: { type: "float", id: 2 },
            i: { type: "int64", id: 3 },
            type: { type: "int32", id: 20 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: "repeated", type: "int64", id: 1 },
            dataType: { type: "int32", id: 2 },
            name: { type: "string", id: 8 },
            rawData: { type: "bytes", id: 9 },
          },
        },
        ValueInfoProto: { fields: { name: { type: "string", id: 1 }, type: { type: "TypeProto", id: 2 } } },
        TypeProto: { fields: { tensorType: { type: "TypeProtoTensor", id: 1 } } },
        TypeProtoTensor: { fields: { elemType: { type: "int32", id: 1 }, shape: { type: "TensorShapeProto", id: 2 } } },
        TensorShapeProto: { fields: { dim: { rule: "repeated", type: "Dimension", id: 1 } } },
        Dimension: { fields: { dimValue: { type: "int64", id: 1 }, dimParam: { type: "string", id: 2 } } },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(ONNX_PROTO);
const ModelProto = root.lookupType("onnx.ModelProto");

const FLOAT = 1;
const ATTR_INT = 2;
export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;

/** The exported graph's input for states of `codec`, as a model card names it. */
export function exportInputFor(codec: string = DEFAULT_CODEC): CardTensor {
  return { name: "obs", type: "float32", shape: ["batch", codecByName(codec).dim] };
}

/** Input (obs-v1's) and outputs of the exported graph, as a model card names them. */
export const EXPORT_INPUT: CardTensor = exportInputFor(DEFAULT_CODEC);
export const EXPORT_OUTPUTS: readonly CardOutput[] = [
  { name: "probs", type: "float32", shape: ["batch", ACTION_COUNT], role: "probabilities" },
  { name: "value", type: "float32", shape: ["batch", 1], role: "value" },
];

export interface ExportInput {
  readonly spec: MlpSpec;
  readonly params: Float32Array;
  /** Observation statistics when the policy was trained with normObs, else null. */
  readonly obsNorm: { readonly mean: ArrayLike<number>; readonly var: ArrayLike<number> } | null;
  readonly obsClip: number;
  /** The state codec the network reads; its dimension must be `spec.obsDim`. @default "obs-v1" */
  readonly codec?: string;
  /** Written into the model's metadata (e.g. the run id). */
  readonly metadata?: Readonly<Record<string, string>>;
  readonly docString?: string;
}

function tensor(name: string, dims: readonly number[], data: Float32Array) {
  const bytes = new Uint8Array(data.byteLength);
  // raw_data is little-endian float32; copy so a subarray's neighbours are not included.
  bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return { name, dims: [...dims], dataType: FLOAT, rawData: bytes };
}

function valueInfo(name: string, shape: readonly (number | string)[]) {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** Encodes the ONNX model (bytes of a `.onnx` file). */
export function exportOnnx(input: ExportInput): Uint8Array {
  const { spec, params } = input;
  const codec = codecByName(input.codec ?? DEFAULT_CODEC);
  if (codec.dim !== spec.obsDim) {
    throw new Error(
      `Expected the network's input width (${spec.obsDim}) to be codec "${codec.name}"'s dimension, ${codec.dim}`,
    );
  }
  const inputInfo = exportInputFor(codec.name);
  const layout = paramLayout(spec);
  const nodes: object[] = [];
  const inits: object[] = [];
  const node = (opType: string, inputs: string[], outputs: string[], attribute: object[] = []) =>
    nodes.push({ opType, input: inputs, output: outputs, name: `${opType}_${nodes.length}`, attribute });

  let x = EXPORT_INPUT.name;
  if (input.obsNorm !== null) {
    const d = spec.obsDim;
    const mean = new Float32Array(d);
    const std = new Float32Array(d);
    for (let j = 0; j < d; j++) {
      mean[j] = input.obsNorm.mean[j]!;
      std[j] = Math.sqrt(input.obsNorm.var[j]! + OBS_NORM_EPS);
    }
    inits.push(tensor("obs_mean", [d], mean), tensor("obs_std", [d], std));
    inits.push(tensor("obs_clip_min", [], new Float32Array([-input.obsClip])));
    inits.push(tensor("obs_clip_max", [], new Float32Array([input.obsClip])));
    node("Sub", [x, "obs_mean"], ["obs_centered"]);
    node("Div", ["obs_centered", "obs_std"], ["obs_scaled"]);
    node("Clip", ["obs_scaled", "obs_clip_min", "obs_clip_max"], ["obs_norm"]);
    x = "obs_norm";
  }

  const mlp = (prefix: string, layers: typeof layout.actor, out: string) => {
    let h = x;
    layers.forEach((l, i) => {
      const tag = i === layers.length - 1 ? "out" : String(i);
      const w = `${prefix}.${tag}.w`;
      const b = `${prefix}.${tag}.b`;
      inits.push(tensor(w, [l.outDim, l.inDim], params.subarray(l.w, l.w + l.outDim * l.inDim)));
      inits.push(tensor(b, [l.outDim], params.subarray(l.b, l.b + l.outDim)));
      const last = i === layers.length - 1;
      const z = last ? out : `${prefix}.${tag}.z`;
      node("Gemm", [h, w, b], [z], [{ name: "transB", type: ATTR_INT, i: 1 }]);
      if (!last) {
        node("Tanh", [z], [`${prefix}.${tag}.h`]);
        h = `${prefix}.${tag}.h`;
      }
    });
  };
  mlp("pi", layout.actor, "logits");
  node("Softmax", ["logits"], ["probs"], [{ name: "axis", type: ATTR_INT, i: 1 }]);
  mlp("vf", layout.critic, "value");

  const model = {
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    producerName: "chaos-rl-harness ppo",
    producerVersion: "1",
    modelVersion: 1,
    docString: input.docString ?? `PPO actor-critic over ${codec.name}`,
    metadataProps: Object.entries({ codec: codec.name, ...(input.metadata ?? {}) }).map(([key, value]) => ({
      key,
      value,
    })),
    graph: {
      name: "ppo_actor_critic",
      node: nodes,
      initializer: inits,
      input: [valueInfo(inputInfo.name, inputInfo.shape)],
      output: EXPORT_OUTPUTS.map((o) => valueInfo(o.name, o.shape)),
    },
  };
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

/**
 * Reads back what {@link exportOnnx} wrote: the network's shape, its flat parameters and the
 * observation statistics, so that a served model can be fine-tuned (policies/service/online)
 * from exactly the weights it serves. Only our own exports qualify (initializers named as
 * `paramLayout` names them); anything else is refused with what is missing. The variance
 * comes back as std^2 - 1e-8 (the graph stores the std), equal to the trained one to float32
 * rounding. The codec comes from the metadata (`codec`; every export has written it).
 */
export function importOnnx(bytes: Uint8Array): ExportInput {
  const model = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, bytes: Array }) as {
    graph?: { initializer?: { name: string; dims: number[]; rawData?: number[] }[] };
    metadataProps?: { key: string; value: string }[];
  };
  const codec = model.metadataProps?.find((p) => p.key === "codec")?.value ?? DEFAULT_CODEC;
  const inits = new Map<string, { dims: number[]; data: Float32Array }>();
  for (const t of model.graph?.initializer ?? []) {
    const raw = Uint8Array.from(t.rawData ?? []);
    inits.set(t.name, { dims: t.dims, data: new Float32Array(raw.buffer, 0, raw.byteLength / 4) });
  }
  const need = (name: string) => {
    const t = inits.get(name);
    if (!t) throw new Error(`Expected initializer "${name}" of a chaos-rl-harness PPO export, got none`);
    return t;
  };
  const hidden: number[] = [];
  for (let i = 0; inits.has(`pi.${i}.w`); i++) hidden.push(need(`pi.${i}.w`).dims[0]!);
  const obsDim = need(hidden.length > 0 ? "pi.0.w" : "pi.out.w").dims[1]!;
  const spec: MlpSpec = { obsDim, hidden, nActions: need("pi.out.w").dims[0]! };
  const layout = paramLayout(spec);
  const params = new Float32Array(layout.size);
  for (const t of layout.tensors) {
    const init = need(t.name);
    if (init.data.length !== t.size) {
      throw new Error(`Expected ${t.size} values in initializer "${t.name}", got ${init.data.length}`);
    }
    params.set(init.data, t.offset);
  }
  let obsNorm: ExportInput["obsNorm"] = null;
  let obsClip = Number.POSITIVE_INFINITY;
  if (inits.has("obs_mean")) {
    const std = need("obs_std").data;
    obsNorm = {
      mean: Float64Array.from(need("obs_mean").data),
      var: Float64Array.from(std, (s) => s * s - OBS_NORM_EPS),
    };
    obsClip = need("obs_clip_max").data[0]!;
  }
  return { spec, params, obsNorm, obsClip, codec };
}
