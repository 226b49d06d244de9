/**
 * State codecs by name (DESIGN.md, "State codec"): the contract's `obs-v1` and any codec
 * added beside it (never in place). A policy names its codec (`Policy.codec`, obs-v1 when
 * absent); the loop looks it up here, encodes each observation with it, and records which
 * codec fed each decision.
 *
 * A codec module registers itself when it is imported:
 *
 *   export const OBS_V2: StateCodec = { name: "obs-v2", code: 2, dim: 14, features: [...], create };
 *   registerCodec(OBS_V2);
 *
 * `code` is the codec's number in the trace store (`steps.codec`, the `codecs` lookup table):
 * stable forever, unique, 1..255 (0 is never a codec). obs-v1 is code 1.
 */
import { type CodecContext, encodeObsV1, OBS_V1, type Snapshot } from "./contract.ts";
import { HarnessError } from "./errors.ts";

/**
 * One episode's encoder: it may keep history between observations (a window of past
 * snapshots), so the loop creates a fresh one per episode and never shares it.
 */
export interface StateEncoder {
  /** Writes the encoding of `s` into `out` (length `dim`) and returns `out`; never NaN. */
  encode(s: Readonly<Snapshot>, out: Float32Array): Float32Array;
}

export interface StateCodec {
  readonly name: string;
  /** The codec's number in the trace store: stable, unique, 1..255. */
  readonly code: number;
  readonly dim: number;
  /** What each float means, in order (model cards and docs print these). */
  readonly features: readonly string[];
  /** A fresh encoder for one episode with this context. */
  create(ctx: CodecContext): StateEncoder;
}

export const OBS_V1_CODEC: StateCodec = {
  name: OBS_V1.name,
  code: 1,
  dim: OBS_V1.dim,
  features: OBS_V1.features,
  create: (ctx) => ({ encode: (s, out) => encodeObsV1(s as Snapshot, ctx, out) }),
};

/** The codec a policy that names none is fed. */
export const DEFAULT_CODEC = OBS_V1.name;

const BY_NAME = new Map<string, StateCodec>();

/**
 * Adds a codec. Registering the same object again is a no-op (a module imported twice);
 * another codec with a taken name or code is refused, so two codecs never share a trace code.
 */
export function registerCodec(codec: StateCodec): void {
  const same = BY_NAME.get(codec.name);
  if (same === codec) return;
  if (same !== undefined) {
    throw new Error(`A state codec named "${codec.name}" is registered already`);
  }
  if (!(Number.isInteger(codec.code) && codec.code >= 1 && codec.code <= 255)) {
    throw new Error(`Expected codec "${codec.name}" to have an integer code in 1..255, got ${String(codec.code)}`);
  }
  for (const c of BY_NAME.values()) {
    if (c.code === codec.code) {
      throw new Error(`Codec "${codec.name}" wants code ${codec.code}, which "${c.name}" has`);
    }
  }
  if (!(Number.isInteger(codec.dim) && codec.dim > 0) || codec.features.length !== codec.dim) {
    throw new Error(
      `Expected codec "${codec.name}" to list one feature per dimension, got dim ${codec.dim} and ${codec.features.length} features`,
    );
  }
  BY_NAME.set(codec.name, codec);
}

registerCodec(OBS_V1_CODEC);

/** The codec named `name` (obs-v1 when absent), or a `CodecUnknown` error listing the known ones. */
export function codecByName(name: string | undefined = DEFAULT_CODEC): StateCodec {
  const codec = BY_NAME.get(name);
  if (codec === undefined) {
    throw new HarnessError(
      "CodecUnknown",
      `Expected a state codec among ${codecNames()
        .map((n) => `"${n}"`)
        .join(", ")}, got "${name}"`,
    );
  }
  return codec;
}

/** Every registered codec, by code (the trace store's `codecs` lookup rows). */
export function registeredCodecs(): StateCodec[] {
  return [...BY_NAME.values()].sort((a, b) => a.code - b.code);
}

/** The name of the codec with trace code `code`: "none" for 0 (no codec fed the decision), the code itself when unknown here. */
export function codecName(code: number): string {
  if (code === 0) return "none";
  for (const c of BY_NAME.values()) if (c.code === code) return c.name;
  return String(code);
}

export function codecNames(): string[] {
  return registeredCodecs().map((c) => c.name);
}
