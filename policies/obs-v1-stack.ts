/**
 * State codec `obs-v1-stack4` (issue 17, "stacked observations"): the last four obs-v1
 * vectors side by side, newest first, 36 floats. Where obs-v2 hand-picks trends, this lets
 * the network find its own from the raw history, with nothing but the contract's metrics: a
 * backend that fills obs-v1 fills this.
 *
 * At an episode's first observations the missing past repeats the oldest one seen, so a
 * fresh episode reads as "nothing changed" rather than as a jump from zeros. One encoder per
 * episode (the loop and `VecEnv` create a fresh one each time).
 */
import { registerCodec, type StateCodec, type StateEncoder } from "../harness/core/codecs.ts";
import { type CodecContext, encodeObsV1, OBS_V1, type Snapshot } from "../harness/core/contract.ts";

/** Observations per state: the current one and three before it. */
export const STACK = 4;

const DIM = OBS_V1.dim * STACK;

/** One episode's window of obs-v1 vectors; `encode` pushes the observation, then writes the window. */
export class ObsV1StackEncoder implements StateEncoder {
  /** Past obs-v1 vectors, newest first (at most STACK - 1). */
  private readonly past: Float32Array[] = [];
  private readonly current = new Float32Array(OBS_V1.dim);

  constructor(private readonly ctx: CodecContext) {}

  encode(s: Readonly<Snapshot>, out: Float32Array): Float32Array {
    encodeObsV1(s as Snapshot, this.ctx, this.current);
    out.set(this.current, 0);
    for (let k = 1; k < STACK; k++) {
      // Before k observations have passed, the oldest one seen stands in for the missing past.
      const from = this.past[Math.min(k, this.past.length) - 1] ?? this.current;
      out.set(from, k * OBS_V1.dim);
    }
    // Shift the window: the buffer that falls out is reused for the newest.
    const reuse = this.past.length === STACK - 1 ? this.past.pop()! : new Float32Array(OBS_V1.dim);
    reuse.set(this.current);
    this.past.unshift(reuse);
    return out;
  }
}

export const OBS_V1_STACK4: StateCodec = {
  name: "obs-v1-stack4",
  code: 3,
  dim: DIM,
  features: Array.from({ length: STACK }, (_, k) =>
    OBS_V1.features.map((f) => (k === 0 ? f : `${f}, ${k} observation${k > 1 ? "s" : ""} ago`)),
  ).flat(),
  create: (ctx) => new ObsV1StackEncoder(ctx),
};

registerCodec(OBS_V1_STACK4);
