import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { podCapacityRps } from "../cluster/local/spec.ts";
import { parseVectorReply } from "../cluster/prometheus/api.ts";
import { assembleSnapshot, createCollectorMemory } from "../cluster/prometheus/collector.ts";
import type { ObservationFixture } from "../cluster/prometheus/record-fixtures.ts";
import { codecByName } from "../harness/core/codecs.ts";
import {
  Action,
  createPodTable,
  createSnapshot,
  encodeObsV1,
  PodPhase,
  type Policy,
  type Snapshot,
} from "../harness/core/contract.ts";
import { guardLimitsSchema } from "../harness/core/guard.ts";
import { deploymentCapacityRps } from "../harness/episode.ts";
import { runEpisode } from "../harness/loop.ts";
import { deploymentSpecSchema } from "../scenarios/local.ts";
import { scenarioSchema } from "../scenarios/schema.ts";
import { SimBackend } from "../sim/backend.ts";
import { SimEnv } from "../sim/env.ts";
import {
  clearObsV2History,
  createObsV2History,
  encodeObsV2,
  OBS_V2,
  OBS_V2_CODEC,
  type ObsV2Context,
  ObsV2Encoder,
  pushObsV2History,
} from "./obs-v2.ts";

const CTX: ObsV2Context = { maxReplicas: 10, episodeSeconds: 2000, podCapacityRps: 100 };
const f = (name: string) => OBS_V2.features.indexOf(name as (typeof OBS_V2.features)[number]);

function snap(fields: Partial<Snapshot>): Snapshot {
  return Object.assign(createSnapshot(), { healthy: 3, desiredReplicas: 3, readyReplicas: 3, pods: 3 }, fields);
}

describe("obs-v2", () => {
  it("names 25 features, one per slot", () => {
    expect(OBS_V2.features).toHaveLength(OBS_V2.dim);
    expect(new Set(OBS_V2.features).size).toBe(OBS_V2.dim);
  });

  it("carries obs-v1's values on a simulator observation", () => {
    const env = new SimEnv();
    env.reset(3, { faults: [{ type: "pod-failure" }], frequency: { kind: "fixed", intervalS: 50 } });
    for (let t = 0; t < 12; t++) env.step(t === 3 ? Action.ScaleUp : Action.Noop);
    const s = env.step(Action.Noop).info.snapshot;
    const ctx = { ...env.codecContext, podCapacityRps: env.state.params.podCapacityRps };
    const v1 = encodeObsV1(s, ctx);
    const v2 = encodeObsV2(s, createObsV2History(), ctx);
    // obs-v1 slot -> obs-v2 slot
    const same: [number, number][] = [
      [0, 0],
      [1, 1],
      [2, 2],
      [3, 6],
      [4, 7],
      [5, 8],
      [6, 9],
      [7, 10],
      [8, 5],
    ];
    for (const [a, b] of same) expect(v2[b], `${OBS_V2.features[b]}`).toBe(v1[a]);
  });

  it("sees a x3 load spike as three times the load where CPU saturates at 1", () => {
    const env = new SimEnv();
    const spikeAt = 100;
    env.reset(5, {
      workload: { pattern: "constant", baseRps: 150, noise: 0 },
      schedule: [{ id: 0, atS: spikeAt, spec: { type: "load-spike", factor: 3, durationS: 300 }, targetKey: 0.5 }],
    });
    const enc = new ObsV2Encoder({ ...env.codecContext, podCapacityRps: env.state.params.podCapacityRps });
    let before: Float32Array = new Float32Array(0);
    let during: Float32Array = new Float32Array(0);
    let cpuDuring = 0;
    for (let t = 0; t < 20; t++) {
      const r = env.step(Action.Noop);
      const v = enc.encode(r.info.snapshot);
      if (r.info.snapshot.time === spikeAt) before = v.slice();
      if (r.info.snapshot.time === spikeAt + 50) {
        during = v.slice();
        cpuDuring = r.info.snapshot.cpu;
      }
    }
    expect(cpuDuring).toBeGreaterThan(0.95);
    expect(cpuDuring).toBeLessThanOrEqual(1);
    const load = f("request rate / (serving pods x podCapacityRps), clipped to 10");
    expect(before[load]).toBeCloseTo(0.5, 1);
    expect(during[load]! / before[load]!).toBeGreaterThan(2.5);
    expect(during[f("request rate / (maxReplicas x podCapacityRps), clipped to 10")]).toBeCloseTo(0.45, 1);
  });

  it("reads trends per 10 s and per 30 s, the same on a 5 s grid as on a 10 s one", () => {
    const lat = f("latency change per 10 s over the last observation (/1000)");
    const latLong = f("latency change per 30 s over the last three observations (/1000)");
    const rep = f("desired replicas change per 10 s, last observation (/ maxReplicas)");
    for (const step of [5, 10, 30]) {
      const h = createObsV2History();
      let v: Float32Array = new Float32Array(OBS_V2.dim);
      for (let k = 0; k <= 4; k++) {
        // Latency rises 10 ms per second; one replica more every 10 s.
        const s = snap({ time: k * step, latencyMs: 100 + 10 * k * step, desiredReplicas: 3 + (k * step) / 10 });
        v = encodeObsV2(s, h, CTX, v);
        if (k === 0) expect([v[lat], v[latLong], v[rep]]).toEqual([0, 0, 0]);
        pushObsV2History(h, s, CTX);
      }
      expect(v[lat], `step ${step}`).toBeCloseTo(0.1, 5);
      expect(v[latLong], `step ${step}`).toBeCloseTo(0.3, 5);
      expect(v[rep], `step ${step}`).toBeCloseTo(0.1, 5);
    }
  });

  it("looks back three observations at most, and forgets the past on reset", () => {
    const e = new ObsV2Encoder(CTX);
    const cpuLong = f("cpu change per 30 s, last three observations");
    let v: Float32Array = new Float32Array(0);
    // cpu 0.1 for 5 steps, then 0.4: the long trend sees the jump while it is within 3 observations.
    const cpus = [0.1, 0.1, 0.1, 0.1, 0.1, 0.4, 0.4, 0.4, 0.4];
    const seen: number[] = [];
    cpus.forEach((cpu, k) => {
      v = e.encode(snap({ time: 10 * k, cpu }));
      seen.push(Number(v[cpuLong]!.toFixed(4)));
    });
    expect(seen).toEqual([0, 0, 0, 0, 0, 0.3, 0.3, 0.3, 0]);
    e.reset();
    v = e.encode(snap({ time: 0, cpu: 0.9 }));
    expect(v[cpuLong]).toBe(0);
    clearObsV2History(e.history);
    expect(e.history.count).toBe(0);
  });

  it("reports the worst serving pod's latency and the worst running pod's memory", () => {
    const t = createPodTable(4);
    t.count = 4;
    // a slow serving pod, a drained pod slower still and leaking, a crashed pod, a healthy one
    const rows = [
      { phase: PodPhase.Degraded, drained: 0, lat: 450, mem: 0.4 },
      { phase: PodPhase.Healthy, drained: 1, lat: 900, mem: 0.8 },
      { phase: PodPhase.Crashed, drained: 0, lat: 5000, mem: 0.95 },
      { phase: PodPhase.Healthy, drained: 0, lat: 50, mem: 0.3 },
    ];
    rows.forEach((r, i) => {
      t.id[i] = i;
      t.phase[i] = r.phase;
      t.drained[i] = r.drained;
      t.latencyMs[i] = r.lat;
      t.memory[i] = r.mem;
    });
    const s = snap({ podTable: t, healthy: 2, degraded: 1, crashed: 1, drained: 1, requestRate: 300, latencyMs: 450 });
    const v = encodeObsV2(s, createObsV2History(), CTX);
    expect(v[f("worst serving pod's latency_ms / 1000")]).toBeCloseTo(0.45, 6);
    expect(v[f("worst running pod's memory (0..1)")]).toBeCloseTo(0.8, 6);
    // Two serving pods of 100 rps for 300 rps.
    expect(v[f("request rate / (serving pods x podCapacityRps), clipped to 10")]).toBeCloseTo(1.5, 6);
    // Without rows: the aggregates stand in.
    const bare = encodeObsV2(snap({ latencyMs: 120, memory: 0.33 }), createObsV2History(), CTX);
    expect([bare[13], bare[14]]).toEqual([Math.fround(0.12), Math.fround(0.33)]);
  });

  it("never emits NaN or an infinity, whatever the snapshot holds", () => {
    const num = fc.oneof(
      fc.double({ min: -1e6, max: 1e6, noNaN: true }),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
    );
    fc.assert(
      fc.property(
        fc.array(fc.record({ time: num, latencyMs: num, cpu: num, requestRate: num, healthy: num }), {
          minLength: 1,
          maxLength: 5,
        }),
        (xs) => {
          const e = new ObsV2Encoder(CTX);
          for (const x of xs) {
            const v = e.encode(snap({ ...x, errorRate: Number.NaN, sinceFailureS: Number.NaN }));
            for (const y of v) if (!Number.isFinite(y)) return false;
          }
          return true;
        },
      ),
    );
  });

  it("is filled from the local testbed's real metrics (a recorded PromQL reply with a pending pod)", () => {
    const fx = JSON.parse(
      readFileSync(new URL("../cluster/prometheus/fixtures/local-testbed.json", import.meta.url), "utf8"),
    ) as ObservationFixture;
    const memory = createCollectorMemory();
    const opts = {
      staleAfterS: 3,
      timeoutLatencyMs: 10_000,
      degraded: { latencyMs: 200, errorRate: 0.05, memory: 0.9 },
    };
    // The testbed's capacity from its deployment spec: 0.5 cores over 2 ms of CPU per request.
    const capacity = podCapacityRps(deploymentSpecSchema.parse({}));
    expect(capacity).toBe(250);
    const e = new ObsV2Encoder({ maxReplicas: 10, episodeSeconds: 60, podCapacityRps: capacity });
    const vs = fx.observations.map((o) => {
      const s = assembleSnapshot(parseVectorReply(o.reply).data.result, o.atUnixS, opts, memory);
      // Nothing obs-v2 reads is missing: counts, rows, cpu, memory, latency, errors, request rate.
      expect(s.missing).toBe(0);
      expect(s.podTable).not.toBeNull();
      return { s, v: e.encode(s).slice() };
    });
    const withPending = vs.find(({ s }) => s.pending > 0);
    expect(withPending).toBeDefined();
    expect(withPending!.v[f("pending (starting, restarting) / maxReplicas")]).toBeGreaterThan(0);
    for (const { s, v } of vs) {
      expect(v[f("request rate / (serving pods x podCapacityRps), clipped to 10")]).toBeGreaterThan(0);
      expect(v[f("worst serving pod's latency_ms / 1000")]).toBeGreaterThanOrEqual(s.latencyMs / 1000 - 1e-6);
      expect(v[f("worst running pod's memory (0..1)")]).toBeGreaterThan(s.memory);
    }
    // The second and third observations have a past: their trends are measured, not 0.
    expect(vs.slice(1).some(({ v }) => v.slice(15).some((x) => x !== 0))).toBe(true);
  });
});

describe("obs-v2 in the codec registry", () => {
  it("is registered under its name with trace code 2 and refuses a context without capacity", () => {
    expect(codecByName("obs-v2")).toBe(OBS_V2_CODEC);
    expect(OBS_V2_CODEC.code).toBe(2);
    expect(() => OBS_V2_CODEC.create({ maxReplicas: 10, episodeSeconds: 100 })).toThrow(
      /`podCapacityRps` to be a positive number for obs-v2 .*got undefined/,
    );
  });

  it("feeds a policy that names it through the loop, one encoder per episode (trends start at 0)", async () => {
    const seen: Float32Array[] = [];
    const policy: Policy = {
      name: "reads-obs-v2",
      codec: "obs-v2",
      decide: (state) => {
        seen.push(state.slice());
        return { action: Action.Noop, confidence: 1 };
      },
    };
    const codes: number[] = [];
    const episode = () =>
      runEpisode(
        {
          backend: new SimBackend({ seed: 4 }),
          policy,
          fallback: null,
          schedule: [],
          steps: 6,
          stepSeconds: 10,
          codec: { maxReplicas: 10, episodeSeconds: 60, podCapacityRps: 100 },
          limits: guardLimitsSchema.parse({}),
          slo: { latencyMs: 300, errorRate: 0.01 },
          confirmWindowS: 30,
        },
        { onStep: (r) => codes.push(r.codec) },
      );
    await episode();
    await episode();
    expect(seen).toHaveLength(12);
    expect(seen.every((v) => v.length === OBS_V2.dim)).toBe(true);
    expect(new Set(codes)).toEqual(new Set([2]));
    // Each episode's first decision has no past; later ones do (the load wanders, so its trend moves).
    expect([...seen[0]!.slice(15)].every((x) => x === 0)).toBe(true);
    expect([...seen[6]!.slice(15)].every((x) => x === 0)).toBe(true);
    expect(seen.slice(1, 6).some((v) => v.slice(15).some((x) => x !== 0))).toBe(true);
    expect(seen[0]![12]).toBeCloseTo(0.15, 1);
  });
});

describe("the capacity the harness hands the codecs", () => {
  const base = {
    name: "cap",
    seeds: [1],
    matrix: { fault: ["pod-kill"], frequency: { f: { kind: "fixed", intervalS: 60 } }, policy: ["none"] },
  };
  it("is the simulator's parameter, the testbed's spec, and nothing for a cluster", () => {
    expect(deploymentCapacityRps(scenarioSchema.parse({ ...base, sim: { podCapacityRps: 80 } }))).toBe(80);
    expect(
      deploymentCapacityRps(scenarioSchema.parse({ ...base, backend: "local", local: { cpuCores: 1, workMs: 4 } })),
    ).toBe(250);
  });
});
