import { describe, expect, it } from "vitest";
import { codecByName, codecNames, DEFAULT_CODEC, OBS_V1_CODEC, registerCodec, type StateCodec } from "./codecs.ts";
import { createSnapshot, encodeObsV1, OBS_V1 } from "./contract.ts";
import { HarnessError } from "./errors.ts";

/** A stateful two-float codec: the error rate now and its change since the previous observation. */
const trendCodec: StateCodec = {
  name: "test-trend",
  code: 201,
  dim: 2,
  features: ["error rate", "error rate change"],
  create: () => {
    let last = Number.NaN;
    return {
      encode: (s, out) => {
        out[0] = s.errorRate;
        out[1] = Number.isNaN(last) ? 0 : s.errorRate - last;
        last = s.errorRate;
        return out;
      },
    };
  },
};

describe("codec registry", () => {
  it("has obs-v1 as the default, encoding exactly as the contract's encoder", () => {
    expect(DEFAULT_CODEC).toBe("obs-v1");
    expect(codecByName()).toBe(OBS_V1_CODEC);
    expect(OBS_V1_CODEC).toMatchObject({ name: OBS_V1.name, dim: OBS_V1.dim, code: 1 });
    const s = { ...createSnapshot(), healthy: 3, desiredReplicas: 4, cpu: 0.5, latencyMs: 250, sinceFailureS: 30 };
    const ctx = { maxReplicas: 10, episodeSeconds: 600 };
    const got = OBS_V1_CODEC.create(ctx).encode(s, new Float32Array(OBS_V1.dim));
    expect([...got]).toEqual([...encodeObsV1(s, ctx)]);
  });

  it("looks up a registered codec by name, and each episode's encoder keeps its own history", () => {
    registerCodec(trendCodec);
    registerCodec(trendCodec); // the same module imported twice
    expect(codecByName("test-trend")).toBe(trendCodec);
    expect(codecNames()).toContain("test-trend");
    const a = trendCodec.create({ maxReplicas: 10, episodeSeconds: 600 });
    const b = trendCodec.create({ maxReplicas: 10, episodeSeconds: 600 });
    const out = new Float32Array(2);
    a.encode({ ...createSnapshot(), errorRate: 0.25 }, out);
    expect([...a.encode({ ...createSnapshot(), errorRate: 0.5 }, out)]).toEqual([0.5, 0.25]);
    expect([...b.encode({ ...createSnapshot(), errorRate: 0.5 }, out)]).toEqual([0.5, 0]);
  });

  it("refuses an unknown name with CodecUnknown, listing the known codecs", () => {
    let err: unknown = null;
    try {
      codecByName("obs-v9");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HarnessError);
    expect(err).toMatchObject({ code: "CodecUnknown" });
    expect((err as Error).message).toContain('"obs-v1"');
    expect((err as Error).message).toContain('got "obs-v9"');
  });

  it("refuses a second codec with a taken name or code, and a feature list that is not the dimension", () => {
    expect(() => registerCodec({ ...OBS_V1_CODEC })).toThrow(/named "obs-v1" is registered already/);
    expect(() => registerCodec({ ...trendCodec, name: "test-other" })).toThrow(/code 201, which "test-trend" has/);
    expect(() => registerCodec({ ...trendCodec, name: "test-zero", code: 0 })).toThrow(/code in 1..255/);
    expect(() => registerCodec({ ...trendCodec, name: "test-dim", code: 202, dim: 3 })).toThrow(/one feature per/);
  });
});
