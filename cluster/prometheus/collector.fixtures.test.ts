/**
 * The collector's parsing and assembly on replies recorded from the real Prometheus
 * (fixtures/*.json, re-recorded by `npx tsx cluster/prometheus/record-fixtures.ts`): fast,
 * no server, and the same code path as a live observation after the HTTP call.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Missing, PodPhase } from "../../harness/core/contract.ts";
import { classifyReply, parseVectorReply } from "./api.ts";
import { type AssemblyOptions, assembleSnapshot, type CollectedSnapshot, createCollectorMemory } from "./collector.ts";
import { PrometheusError, PrometheusErrorCode } from "./errors.ts";
import { observationQuery } from "./queries.ts";
import type { ErrorFixture, ObservationFixture } from "./record-fixtures.ts";

const OPTIONS: AssemblyOptions = {
  staleAfterS: 3,
  timeoutLatencyMs: 10_000,
  degraded: { latencyMs: 200, errorRate: 0.05, memory: 0.9 },
};

function load<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), "utf8")) as T;
}

/** Replays a fixture's observations through one collector memory, as a live collector would. */
function replay(name: string): CollectedSnapshot[] {
  const fx = load<ObservationFixture>(name);
  const memory = createCollectorMemory();
  return fx.observations.map((o) =>
    assembleSnapshot(parseVectorReply(o.reply).data.result, o.atUnixS, OPTIONS, memory),
  );
}

function counts(s: CollectedSnapshot) {
  const { desiredReplicas, readyReplicas, pods, healthy, degraded, crashed, pending, terminating, drained } = s;
  return { desiredReplicas, readyReplicas, pods, healthy, degraded, crashed, pending, terminating, drained };
}

describe("recorded fixtures", () => {
  for (const name of [
    "healthy",
    "mixed-health",
    "restart",
    "missing-series",
    "stale",
    "no-serving-pod",
    "local-testbed",
  ]) {
    it(`${name}.json was recorded with the current observation query`, () => {
      const fx = load<ObservationFixture>(name);
      expect(
        observationQuery(fx.params),
        "queries.ts changed: re-record with npx tsx cluster/prometheus/record-fixtures.ts",
      ).toBe(fx.query);
    });
  }
});

describe("collector on recorded replies", () => {
  it("healthy: three healthy pods with the exporter's cpu, memory, rate and latency", () => {
    const [s] = replay("healthy");
    expect(s!.missing).toBe(0);
    expect(counts(s!)).toEqual({
      desiredReplicas: 3,
      readyReplicas: 3,
      pods: 3,
      healthy: 3,
      degraded: 0,
      crashed: 0,
      pending: 0,
      terminating: 0,
      drained: 0,
    });
    expect(s!.cpu).toBeCloseTo(0.2, 2); // 0.1 cores of a 0.5-core limit
    expect(s!.memory).toBe(0.25);
    expect(s!.requestRate / 60).toBeCloseTo(1, 1);
    expect(s!.errorRate).toBe(0);
    // 20 ms requests: bucket (0.01, 0.025], p95 = 10 + 0.95 × 15 ms.
    expect(s!.latencyMs).toBeCloseTo(24.25, 6);
    expect(s!.podNames).toEqual(["demo-7d4b9c8f6-g1p000", "demo-7d4b9c8f6-g1p001", "demo-7d4b9c8f6-g1p002"]);
    expect(Array.from(s!.podTable!.id.subarray(0, 3))).toEqual([0, 1, 2]);
  });

  it("mixed-health: every pod state kube-state-metrics can show maps to its phase", () => {
    const [s] = replay("mixed-health");
    expect(s!.missing).toBe(0);
    expect(Array.from(s!.podTable!.phase.subarray(0, 6))).toEqual([
      PodPhase.Healthy,
      PodPhase.Degraded,
      PodPhase.Pending,
      PodPhase.Crashed,
      PodPhase.Terminating,
      PodPhase.Healthy,
    ]);
    expect(counts(s!)).toEqual({
      desiredReplicas: 5,
      readyReplicas: 4,
      pods: 5,
      healthy: 2,
      degraded: 1,
      crashed: 1,
      pending: 1,
      terminating: 1,
      drained: 1,
    });
    const t = s!.podTable!;
    expect(t.errorRate[1]).toBeCloseTo(0.2, 2);
    expect(t.latencyMs[1]).toBeGreaterThan(200); // 10% at 300 ms: bucket (0.2, 0.3]
    expect(t.latencyMs[1]).toBeLessThanOrEqual(300);
    expect(t.restarts[3]).toBe(3);
    expect(t.drained[5]).toBe(1);
    // 4 errors/s out of 120 requests/s over all pods.
    expect(s!.errorRate).toBeCloseTo(4 / 120, 2);
  });

  it("restart: a restart resets the failure clock and the pod is restarting until ready", () => {
    const [a, b, c] = replay("restart");
    expect(a!.sinceFailureS).toBe(0);
    expect(b!.podTable!.phase[1]).toBe(PodPhase.Restarting);
    expect(b!.pending).toBe(1); // restarting pods count as pending
    expect(b!.sinceFailureS).toBe(0);
    expect(b!.time).toBeCloseTo(b!.atUnixS - a!.atUnixS, 9);
    expect(c!.podTable!.phase[1]).toBe(PodPhase.Healthy);
    expect(c!.sinceFailureS).toBeCloseTo(c!.atUnixS - b!.atUnixS, 9);
    expect(c!.memory).toBeCloseTo(0.6, 9);
  });

  it("missing-series: absent series set their bits and read as defaults", () => {
    const [s] = replay("missing-series");
    expect(s!.missing).toBe(Missing.Memory | Missing.RequestRate | Missing.ErrorRate);
    expect(s!.memory).toBe(0);
    expect(s!.requestRate).toBe(0);
    expect(s!.healthy).toBe(2);
  });

  it("stale: samples older than the staleness bound count as missing although Prometheus returns them", () => {
    const [s] = replay("stale");
    expect(s!.missing).toBe(
      Missing.Pods | Missing.Cpu | Missing.Memory | Missing.Latency | Missing.RequestRate | Missing.ErrorRate,
    );
    expect(s!.podTable).toBeNull();
    expect(s!.desiredReplicas).toBe(0);
  });

  it("no-serving-pod: a pod failing readiness after serving is crashed; with none serving the service reads down", () => {
    const [before, after] = replay("no-serving-pod");
    expect(before!.healthy).toBe(2);
    expect(after!.podTable!.phase[0]).toBe(PodPhase.Crashed);
    expect(after!.sinceFailureS).toBe(0);
    expect({
      cpu: after!.cpu,
      memory: after!.memory,
      errorRate: after!.errorRate,
      latencyMs: after!.latencyMs,
    }).toEqual({
      cpu: 0,
      memory: 0,
      errorRate: 1,
      latencyMs: 10_000,
    });
    expect(after!.missing).toBe(0);
  });
});

describe("collector on replies recorded from the local testbed (cluster/local)", () => {
  // Real replicas under the supervisor: values are whatever the processes did, so these
  // check the shape and the events, not exact numbers.
  const fx = load<ObservationFixture & { events: { killed: string; frozen: string } }>("local-testbed");
  const [steady, killed, frozen] = replay("local-testbed");

  it("steady: three healthy pods named like a ReplicaSet's, every value present and in range", () => {
    expect(steady!.missing).toBe(0);
    expect(steady!.healthy).toBe(3);
    expect(steady!.desiredReplicas).toBe(3);
    for (const n of steady!.podNames) expect(n).toMatch(/^demo-[0-9a-f]{10}-[a-z0-9]{5}$/);
    for (const v of [steady!.cpu, steady!.memory]) {
      expect(v).toBeGreaterThan(0);
      expect(v).toBeLessThan(1);
    }
    expect(steady!.latencyMs).toBeGreaterThan(0);
    expect(steady!.requestRate).toBeGreaterThan(0);
  });

  it("after a SIGKILL: the pod is gone, its replacement pending, and the failure clock restarted", () => {
    expect(killed!.podNames).not.toContain(fx.events.killed);
    expect(killed!.pods).toBe(3);
    expect(killed!.pending).toBe(1);
    expect(killed!.sinceFailureS).toBe(0);
  });

  it("with a frozen pod: readiness failed after serving, so it reads crashed", () => {
    const row = frozen!.podNames.indexOf(fx.events.frozen);
    expect(row).toBeGreaterThanOrEqual(0);
    expect(frozen!.podTable!.phase[row]).toBe(PodPhase.Crashed);
    expect(frozen!.crashed).toBe(1);
    expect(frozen!.readyReplicas).toBe(2);
  });
});

describe("API replies recorded from Prometheus", () => {
  const fx = load<ErrorFixture>("errors");
  const classify = (name: string) => {
    const r = fx.replies[name]!;
    try {
      classifyReply(r.status, r.body, "query", "http://127.0.0.1:9090/api/v1/query");
    } catch (e) {
      return e as PrometheusError;
    }
    throw new Error(`reply ${name} was accepted`);
  };

  it("a syntax error (400 bad_data) is a terminal bad query, with Prometheus's message", () => {
    const e = classify("syntax");
    expect(e).toBeInstanceOf(PrometheusError);
    expect(e.code).toBe(PrometheusErrorCode.BadQuery);
    expect(e.transient).toBe(false);
    expect(e.message).toMatch(/^Prometheus refused the query: bad_data: .*unclosed left parenthesis/);
  });

  it("an execution error (422) is a terminal bad query", () => {
    const e = classify("execution");
    expect(e.code).toBe(PrometheusErrorCode.BadQuery);
    expect(e.message).toContain("execution: found duplicate series");
  });

  it("a query timeout (503) is transient", () => {
    const e = classify("timeout");
    expect(e.code).toBe(PrometheusErrorCode.Unavailable);
    expect(e.transient).toBe(true);
    expect(e.message).toContain("HTTP 503");
  });

  it("a success reply of another shape is a terminal bad response", () => {
    expect(() => parseVectorReply({ status: "success", data: { resultType: "matrix", result: [] } })).toThrow(
      expect.objectContaining({ code: PrometheusErrorCode.BadResponse, transient: false }),
    );
  });
});
