/**
 * Two-thread gradients: the critic's forward and backward pass of each minibatch run on a
 * worker thread while the main thread does the actor's. The two halves touch disjoint
 * parameters (separate actor and critic MLPs), so the result is bit-identical to one
 * thread (`threads: 1`); only the wall time changes (about 1.7x on the update phase).
 *
 * Shared memory (SharedArrayBuffer): the parameters, the gradient, the minibatch rows, the
 * loss coefficients and the critic's loss. Hand-off per minibatch is a sequence number in
 * an Int32Array: the main thread bumps `SEQ` and notifies, the worker computes and sets
 * `DONE` to the same number and notifies back (Atomics.wait/notify, no messages, no copies
 * of weights). The rollout's batched inference stays on the main thread.
 */
import { fileURLToPath } from "node:url";
import { parentPort, Worker } from "node:worker_threads";
import { ActorCritic, type LossCoefs, type LossStats, type Minibatch, type MlpSpec, paramLayout } from "./mlp.ts";

const SEQ = 0;
const DONE = 1;
const N = 2;
const ERROR = 3;
/** Float64 slots: clipCoef, entCoef, vfCoef, vLoss. */
const F_CLIP = 0;
const F_ENT = 1;
const F_VF = 2;
const F_VLOSS = 3;

interface Shared {
  readonly spec: MlpSpec;
  readonly maxBatch: number;
  readonly params: SharedArrayBuffer;
  readonly grad: SharedArrayBuffer;
  readonly obs: SharedArrayBuffer;
  readonly actions: SharedArrayBuffer;
  readonly logProbs: SharedArrayBuffer;
  readonly advantages: SharedArrayBuffer;
  readonly returns: SharedArrayBuffer;
  readonly ctrl: SharedArrayBuffer;
  readonly floats: SharedArrayBuffer;
}

interface Views {
  readonly params: Float32Array;
  readonly grad: Float32Array;
  readonly mb: { n: number; masks: Uint8Array | null } & Omit<Minibatch, "n" | "masks">;
  readonly ctrl: Int32Array;
  readonly floats: Float64Array;
}

function views(s: Shared): Views {
  return {
    params: new Float32Array(s.params),
    grad: new Float32Array(s.grad),
    mb: {
      n: 0,
      obs: new Float32Array(s.obs),
      actions: new Int32Array(s.actions),
      logProbs: new Float32Array(s.logProbs),
      advantages: new Float32Array(s.advantages),
      returns: new Float32Array(s.returns),
      // The actor's half runs on the main thread: its masks are read there, never shared.
      masks: null,
    },
    ctrl: new Int32Array(s.ctrl),
    floats: new Float64Array(s.floats),
  };
}

/** The worker's loop (run by grad-worker-entry.mjs): one critic half per sequence number, until SEQ < 0. */
export function runGradWorker(shared: Shared): void {
  const v = views(shared);
  const net = new ActorCritic(shared.spec, shared.maxBatch, v.params);
  const stats: LossStats = { pgLoss: 0, vLoss: 0, entropy: 0, approxKl: 0, clipFrac: 0, loss: 0 };
  const coefs = { clipCoef: 0, entCoef: 0, vfCoef: 0 };
  parentPort?.postMessage("ready");
  let seq = 0;
  for (;;) {
    Atomics.wait(v.ctrl, SEQ, seq);
    const s = Atomics.load(v.ctrl, SEQ);
    if (s < 0) return;
    if (s === seq) continue;
    seq = s;
    try {
      v.mb.n = Atomics.load(v.ctrl, N);
      coefs.clipCoef = v.floats[F_CLIP];
      coefs.entCoef = v.floats[F_ENT];
      coefs.vfCoef = v.floats[F_VF];
      net.criticLossAndGrad(v.mb, coefs, v.grad, stats);
      v.floats[F_VLOSS] = stats.vLoss;
    } catch {
      Atomics.store(v.ctrl, ERROR, 1);
    }
    Atomics.store(v.ctrl, DONE, seq);
    Atomics.notify(v.ctrl, DONE);
  }
}

const ENTRY = fileURLToPath(new URL("./grad-worker-entry.mjs", import.meta.url));

/**
 * The `js` engine on two threads: the same interface and the same numbers as
 * `ActorCritic`, with the critic's half of each minibatch on a worker. Create it with
 * {@link ParallelActorCritic.create}; `close()` ends the worker.
 */
export class ParallelActorCritic {
  readonly params: Float32Array;
  private readonly main: ActorCritic;
  private readonly v: Views;
  private seq = 0;

  private constructor(
    spec: MlpSpec,
    maxBatch: number,
    private readonly shared: Shared,
    private readonly worker: Worker,
  ) {
    this.v = views(shared);
    this.main = new ActorCritic(spec, maxBatch, this.v.params);
    this.params = this.v.params;
  }

  /** Starts the worker and resolves once it is ready. */
  static async create(spec: MlpSpec, maxBatch: number): Promise<ParallelActorCritic> {
    const size = paramLayout(spec).size;
    const f32 = (n: number) => new SharedArrayBuffer(4 * n);
    const shared: Shared = {
      spec,
      maxBatch,
      params: f32(size),
      grad: f32(size),
      obs: f32(maxBatch * spec.obsDim),
      actions: f32(maxBatch),
      logProbs: f32(maxBatch),
      advantages: f32(maxBatch),
      returns: f32(maxBatch),
      ctrl: new SharedArrayBuffer(4 * 4),
      floats: new SharedArrayBuffer(8 * 4),
    };
    const worker = new Worker(ENTRY, { workerData: shared });
    await new Promise<void>((resolve, reject) => {
      worker.once("message", () => resolve());
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`gradient worker exited with code ${code} before it was ready`)));
    });
    worker.removeAllListeners();
    worker.unref();
    return new ParallelActorCritic(spec, maxBatch, shared, worker);
  }

  get logits(): Float32Array {
    return this.main.logits;
  }
  get probs(): Float32Array {
    return this.main.probs;
  }
  get values(): Float32Array {
    return this.main.values;
  }

  forward(obs: Float32Array, n: number): void {
    this.main.forward(obs, n);
  }

  lossAndGrad(mb: Minibatch, c: LossCoefs, grad: Float32Array, stats: LossStats): void {
    const v = this.v;
    const n = mb.n;
    const D = this.shared.spec.obsDim;
    v.mb.n = n;
    v.mb.obs.set(mb.obs.subarray(0, n * D));
    v.mb.actions.set(mb.actions.subarray(0, n));
    v.mb.logProbs.set(mb.logProbs.subarray(0, n));
    v.mb.advantages.set(mb.advantages.subarray(0, n));
    v.mb.returns.set(mb.returns.subarray(0, n));
    v.mb.masks = mb.masks ?? null;
    v.floats[F_CLIP] = c.clipCoef;
    v.floats[F_ENT] = c.entCoef;
    v.floats[F_VF] = c.vfCoef;
    Atomics.store(v.ctrl, N, n);
    const seq = ++this.seq;
    Atomics.store(v.ctrl, SEQ, seq);
    Atomics.notify(v.ctrl, SEQ);
    // The actor's half here, meanwhile.
    this.main.actorLossAndGrad(v.mb, c, v.grad, stats);
    let waited = 0;
    for (;;) {
      const done = Atomics.load(v.ctrl, DONE);
      if (done === seq) break;
      if (Atomics.wait(v.ctrl, DONE, done, 1000) === "timed-out" && ++waited >= 60) {
        throw new Error("gradient worker did not answer within 60 s");
      }
    }
    if (Atomics.load(v.ctrl, ERROR) !== 0) throw new Error("gradient worker failed on a minibatch");
    stats.vLoss = v.floats[F_VLOSS];
    stats.loss = stats.pgLoss - c.entCoef * stats.entropy + c.vfCoef * stats.vLoss;
    if (grad !== v.grad) grad.set(v.grad);
  }

  /** Ends the worker thread. */
  async close(): Promise<void> {
    Atomics.store(this.v.ctrl, SEQ, -1);
    Atomics.notify(this.v.ctrl, SEQ);
    await this.worker.terminate();
  }
}
