/**
 * The same actor-critic and the same PPO loss as `mlp.ts`, computed with tfjs ops and tfjs
 * autodiff over the same flat parameter layout. It is the reference the hand-written path
 * is tested against (forward pass, loss and every gradient), what the ONNX export is checked
 * against, and a training engine in its own right (`engine: "tfjs"`), slower on a 64x64 MLP
 * because the wasm backend's per-op overhead dominates (bench/train.ts prints both).
 *
 * Ops per minibatch are kept few: one matMul per layer (`matMul(x, W, false, true)`, W as
 * [out, in]), one fused log-softmax, and one `valueAndGrads` call for all parameters.
 */
import {
  type LossCoefs,
  type LossStats,
  MASKED_LOGIT,
  type Minibatch,
  type MlpSpec,
  type ParamLayout,
  paramLayout,
  softmaxRows,
} from "./mlp.ts";
import { tf } from "./tf-backend.ts";

type Tensor = tf.Tensor;

/** Both heads of the network on `x` [n, obsDim], from per-tensor parameter tensors. */
function heads(layout: ParamLayout, ps: readonly Tensor[], x: Tensor): { logits: Tensor; values: Tensor } {
  const idx = new Map(layout.tensors.map((t, i) => [t.offset, i]));
  const mlp = (layers: ParamLayout["actor"]) => {
    let h = x;
    layers.forEach((l, i) => {
      const w = ps[idx.get(l.w)!] as tf.Tensor2D;
      const b = ps[idx.get(l.b)!];
      const z = tf.add(tf.matMul(h as tf.Tensor2D, w, false, true), b);
      h = i < layers.length - 1 ? tf.tanh(z) : z;
    });
    return h;
  };
  return { logits: mlp(layout.actor), values: tf.reshape(mlp(layout.critic), [-1]) };
}

function paramTensors(layout: ParamLayout, params: Float32Array): Tensor[] {
  return layout.tensors.map((t) => tf.tensor(params.subarray(t.offset, t.offset + t.size), [...t.shape], "float32"));
}

/**
 * tfjs forward pass: logits [n, A], softmax probabilities [n, A] (tfjs's `softmax`) and
 * values [n], as plain arrays.
 */
export function tfForward(
  spec: MlpSpec,
  params: Float32Array,
  obs: Float32Array,
  n: number,
): { logits: Float32Array; probs: Float32Array; values: Float32Array } {
  const layout = paramLayout(spec);
  return tf.tidy(() => {
    const ps = paramTensors(layout, params);
    const x = tf.tensor2d(obs.subarray(0, n * spec.obsDim), [n, spec.obsDim]);
    const { logits, values } = heads(layout, ps, x);
    return {
      logits: logits.dataSync() as Float32Array,
      probs: tf.softmax(logits).dataSync() as Float32Array,
      values: values.dataSync() as Float32Array,
    };
  });
}

/**
 * tfjs PPO loss and its gradient w.r.t. every parameter (tfjs autodiff), in the flat layout.
 * The same formula as `ActorCritic.lossAndGrad`.
 */
export function tfLossAndGrad(
  spec: MlpSpec,
  params: Float32Array,
  mb: Minibatch,
  c: LossCoefs,
  grad: Float32Array,
  stats: LossStats,
): void {
  const layout = paramLayout(spec);
  const n = mb.n;
  const A = spec.nActions;
  tf.tidy(() => {
    const ps = paramTensors(layout, params);
    const x = tf.tensor2d(mb.obs.subarray(0, n * spec.obsDim), [n, spec.obsDim]);
    const onehot = tf.oneHot(tf.tensor1d(mb.actions.subarray(0, n), "int32"), A);
    const oldLogp = tf.tensor1d(mb.logProbs.subarray(0, n));
    const adv = tf.tensor1d(mb.advantages.subarray(0, n));
    const ret = tf.tensor1d(mb.returns.subarray(0, n));
    // Masked actions get a constant logit (mlp.ts maskLogits): no gradient flows through them.
    const mask = mb.masks
      ? { allowed: tf.tensor2d(mb.masks.subarray(0, n * A), [n, A], "bool"), logit: tf.fill([n, A], MASKED_LOGIT) }
      : null;
    const parts: Record<string, Tensor> = {};
    const lossFn = (...vars: Tensor[]) => {
      const { logits: raw, values } = heads(layout, vars, x);
      const logits = mask === null ? raw : tf.where(mask.allowed, raw, mask.logit);
      const logSm = tf.logSoftmax(logits);
      const logp = tf.sum(tf.mul(logSm, onehot), 1);
      const logRatio = tf.sub(logp, oldLogp);
      const ratio = tf.exp(logRatio);
      const negAdv = tf.neg(adv);
      const pg = tf.mean(
        tf.maximum(tf.mul(negAdv, ratio), tf.mul(negAdv, tf.clipByValue(ratio, 1 - c.clipCoef, 1 + c.clipCoef))),
      );
      const vl = tf.mul(0.5, tf.mean(tf.square(tf.sub(values, ret))));
      const ent = tf.mean(tf.neg(tf.sum(tf.mul(tf.exp(logSm), logSm), 1)));
      // Kept past the gradient's own scope (which disposes its intermediates), freed below.
      parts.pg = tf.keep(pg);
      parts.vl = tf.keep(vl);
      parts.ent = tf.keep(ent);
      parts.kl = tf.keep(tf.mean(tf.sub(tf.sub(ratio, 1), logRatio)));
      parts.clip = tf.keep(tf.mean(tf.cast(tf.greater(tf.abs(tf.sub(ratio, 1)), c.clipCoef), "float32")));
      return tf.add(tf.sub(pg, tf.mul(c.entCoef, ent)), tf.mul(c.vfCoef, vl)) as tf.Scalar;
    };
    const { value, grads } = tf.valueAndGrads(lossFn)(ps);
    layout.tensors.forEach((t, i) => {
      grad.set(grads[i]!.dataSync(), t.offset);
    });
    stats.loss = value.dataSync()[0]!;
    stats.pgLoss = parts.pg!.dataSync()[0]!;
    stats.vLoss = parts.vl!.dataSync()[0]!;
    stats.entropy = parts.ent!.dataSync()[0]!;
    stats.approxKl = parts.kl!.dataSync()[0]!;
    stats.clipFrac = parts.clip!.dataSync()[0]!;
    for (const t of Object.values(parts)) t.dispose();
  });
}

/**
 * The tfjs engine: the `ActorCritic` interface the trainer uses (forward into reused
 * buffers, loss and gradient), backed by tfjs. Parameters stay a flat `Float32Array`
 * owned by the trainer, so the optimiser, checkpoints and export are engine-independent.
 */
export class TfActorCritic {
  readonly layout: ParamLayout;
  readonly params: Float32Array;
  readonly logits: Float32Array;
  readonly probs: Float32Array;
  readonly values: Float32Array;

  constructor(
    readonly spec: MlpSpec,
    readonly maxBatch: number,
    params?: Float32Array,
  ) {
    this.layout = paramLayout(spec);
    this.params = params ?? new Float32Array(this.layout.size);
    this.logits = new Float32Array(maxBatch * spec.nActions);
    this.probs = new Float32Array(maxBatch * spec.nActions);
    this.values = new Float32Array(maxBatch);
  }

  forward(obs: Float32Array, n: number): void {
    const r = tfForward(this.spec, this.params, obs, n);
    this.logits.set(r.logits);
    // Probabilities from the logits in double precision, as the hand-written path does,
    // so both engines sample the same actions from the same logits.
    softmaxRows(this.logits, this.probs, n, this.spec.nActions);
    this.values.set(r.values);
  }

  lossAndGrad(mb: Minibatch, c: LossCoefs, grad: Float32Array, stats: LossStats): void {
    tfLossAndGrad(this.spec, this.params, mb, c, grad, stats);
  }
}
