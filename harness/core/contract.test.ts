import { describe, expect, it } from "vitest";
import {
  Action,
  createPodTable,
  createSnapshot,
  encodeObsV1,
  fillMissing,
  METRIC_DEFAULTS,
  Missing,
  missingNames,
  OBS_V1,
  PodPhase,
  pickTargetPod,
  type Snapshot,
  sloHolds,
} from "./contract.ts";

const ctx = { maxReplicas: 10, episodeSeconds: 2000 };

function snapshot(over: Partial<Snapshot>): Snapshot {
  return Object.assign(createSnapshot(), over);
}

describe("obs-v1 codec", () => {
  it("encodes a known snapshot to the known vector, in the documented order", () => {
    const s = snapshot({
      healthy: 2,
      degraded: 1,
      crashed: 1,
      cpu: 0.55,
      memory: 0.4,
      latencyMs: 250,
      errorRate: 0.02,
      sinceFailureS: 500,
      desiredReplicas: 4,
    });
    const v = encodeObsV1(s, ctx);
    expect(v).toHaveLength(OBS_V1.dim);
    expect(Array.from(v)).toEqual([0.2, 0.1, 0.1, 0.55, 0.4, 0.25, 0.02, 0.25, 0.4].map((x) => Math.fround(x)));
  });

  it("clips time since the last failure to 1", () => {
    const v = encodeObsV1(snapshot({ sinceFailureS: 10_000 }), ctx);
    expect(v[7]).toBe(1);
  });

  it("encodes missing metrics to the documented defaults, never NaN", () => {
    const s = snapshot({
      healthy: Number.NaN,
      cpu: Number.NaN,
      memory: Number.NaN,
      latencyMs: Number.NaN,
      errorRate: Number.NaN,
      sinceFailureS: Number.NaN,
      desiredReplicas: Number.NaN,
    });
    const v = encodeObsV1(s, ctx);
    expect(Array.from(v).some(Number.isNaN)).toBe(false);
    expect(v[0]).toBe(0);
    expect(v[3]).toBe(METRIC_DEFAULTS.cpu);
    expect(v[4]).toBe(METRIC_DEFAULTS.memory);
    expect(v[5]).toBe(METRIC_DEFAULTS.latencyMs / 1000);
    expect(v[6]).toBe(METRIC_DEFAULTS.errorRate);
    expect(v[7]).toBe(1);
    expect(v[8]).toBe(0);
  });

  it("writes into the buffer it is given", () => {
    const out = new Float32Array(9);
    expect(encodeObsV1(snapshot({ cpu: 0.5 }), ctx, out)).toBe(out);
    expect(out[3]).toBe(0.5);
  });
});

describe("fillMissing", () => {
  it("replaces absent metrics by their defaults and flags each on the snapshot", () => {
    const s = fillMissing(snapshot({ cpu: Number.NaN, latencyMs: Number.NaN, readyReplicas: Number.NaN, memory: 0.3 }));
    expect(s.cpu).toBe(METRIC_DEFAULTS.cpu);
    expect(s.latencyMs).toBe(METRIC_DEFAULTS.latencyMs);
    expect(s.readyReplicas).toBe(0);
    expect(s.memory).toBe(0.3);
    expect(s.missing).toBe(Missing.Cpu | Missing.Latency | Missing.Pods);
    expect(missingNames(s.missing)).toEqual(["Cpu", "Latency", "Pods"]);
  });

  it("leaves a complete snapshot unflagged", () => {
    expect(fillMissing(snapshot({ cpu: 0.4 })).missing).toBe(0);
  });
});

describe("pickTargetPod", () => {
  function table(rows: { phase: number; err?: number; lat?: number; drained?: boolean; id: number }[]) {
    const t = createPodTable(rows.length);
    t.count = rows.length;
    rows.forEach((r, i) => {
      t.id[i] = r.id;
      t.phase[i] = r.phase;
      t.errorRate[i] = r.err ?? 0;
      t.latencyMs[i] = r.lat ?? 50;
      t.drained[i] = r.drained ? 1 : 0;
    });
    return t;
  }

  it("prefers a crashed pod over a degraded one over the rest", () => {
    const t = table([
      { id: 1, phase: PodPhase.Healthy, err: 0.5 },
      { id: 2, phase: PodPhase.Degraded },
      { id: 3, phase: PodPhase.Crashed },
    ]);
    expect(pickTargetPod(t, Action.RestartPod)).toBe(2);
    t.phase[2] = PodPhase.Healthy;
    expect(pickTargetPod(t, Action.RestartPod)).toBe(1);
  });

  it("breaks ties by error rate, then latency, then lowest id", () => {
    const t = table([
      { id: 7, phase: PodPhase.Healthy, err: 0.1, lat: 80 },
      { id: 5, phase: PodPhase.Healthy, err: 0.1, lat: 90 },
      { id: 3, phase: PodPhase.Healthy, err: 0.05, lat: 900 },
    ]);
    expect(pickTargetPod(t, Action.RestartPod)).toBe(1);
    t.latencyMs[0] = 90;
    expect(pickTargetPod(t, Action.RestartPod)).toBe(1); // id 5 < id 7
  });

  it("never picks pending, restarting or terminating pods, nor drained pods for a drain", () => {
    const t = table([
      { id: 1, phase: PodPhase.Pending },
      { id: 2, phase: PodPhase.Restarting },
      { id: 3, phase: PodPhase.Terminating },
      { id: 4, phase: PodPhase.Degraded, drained: true },
    ]);
    expect(pickTargetPod(t, Action.DrainPod)).toBe(-1);
    expect(pickTargetPod(t, Action.RestartPod)).toBe(3);
  });
});

describe("sloHolds", () => {
  const slo = { latencyMs: 300, errorRate: 0.01 };
  it("needs a ready replica and latency and errors within the SLO", () => {
    expect(sloHolds(snapshot({ readyReplicas: 1, latencyMs: 300, errorRate: 0.01 }), slo)).toBe(true);
    expect(sloHolds(snapshot({ readyReplicas: 0, latencyMs: 50 }), slo)).toBe(false);
    expect(sloHolds(snapshot({ readyReplicas: 3, latencyMs: 301 }), slo)).toBe(false);
    expect(sloHolds(snapshot({ readyReplicas: 3, errorRate: 0.02 }), slo)).toBe(false);
  });
});
