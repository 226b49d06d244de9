/**
 * Micro-batching of concurrent `/predict` requests: every state submitted while the event
 * loop handles one round of I/O goes into ONE model run. With 8 keep-alive connections,
 * wrk's requests arrive together, and one onnxruntime call per request (each behind its
 * own `setImmediate`, onnxruntime-node's `run`) was the largest cost the service itself
 * adds to Node's HTTP. A lone request waits only for the end of the current round (the
 * check phase of the same loop turn), not for a timer.
 *
 * Each caller gets the batch's decisions and its row; rows are never shared between calls.
 */
import { OBS_V1 } from "../../harness/core/contract.ts";
import type { BatchDecisions, OnnxPolicyModel } from "../onnx-model.ts";

export interface Row {
  readonly out: BatchDecisions;
  readonly i: number;
}

export interface Coalescer {
  /** Queues one state of the model's codec (length `codec.dim`, already validated) for the next run. */
  decide(state: ArrayLike<number>): Promise<Row>;
}

interface Waiter {
  readonly state: ArrayLike<number>;
  resolve(row: Row): void;
  reject(err: unknown): void;
}

/** Largest batch per run; more in one round start a second run. */
const MAX_ROWS = 4096;

/** `model.codec` is the loaded model's (OnnxPolicyModel always has one); a stand-in without one reads obs-v1. */
export function coalescer(
  model: Pick<OnnxPolicyModel, "decideBatch"> & { readonly codec?: { readonly dim: number } },
  maxRows = MAX_ROWS,
): Coalescer {
  const dim = model.codec?.dim ?? OBS_V1.dim;
  let waiters: Waiter[] = [];
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    const mine = waiters;
    const n = mine.length;
    if (n === 0) return;
    waiters = [];
    // Its own buffer per run: onnxruntime reads it later, inside its deferred run.
    const states = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) {
      const s = mine[i]!.state;
      for (let j = 0; j < dim; j++) states[i * dim + j] = s[j]!;
    }
    model.decideBatch(states, n).then(
      (out) => {
        for (let i = 0; i < n; i++) mine[i]!.resolve({ out, i });
      },
      (err: unknown) => {
        for (const w of mine) w.reject(err);
      },
    );
  };

  return {
    decide(state) {
      const row = new Promise<Row>((resolve, reject) => waiters.push({ state, resolve, reject }));
      if (waiters.length >= maxRows) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
      return row;
    },
  };
}
