/**
 * The collector against a real Prometheus (started by the runner) scraping a real exporter
 * whose values the test sets: every number checked here went through PromQL.
 * Scrapes every 0.5 s; the rate window is then max(4 × 0.5, 1 + 0.5) = 2 s, and a change is
 * waited out by `settle(SCRAPES_FOR_RATES)` scrapes reaching Prometheus (events, no sleeps).
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Missing, PodPhase } from "../../harness/core/contract.ts";
import { queryInstant } from "./api.ts";
import { type Collector, createCollector } from "./collector.ts";
import { PrometheusError, PrometheusErrorCode } from "./errors.ts";
import { findExecutable } from "./runner.ts";
import { healthyPod } from "./test-exporter.ts";
import {
  DEPLOYMENT,
  fakeDeployment,
  NAMESPACE,
  podName,
  portFree,
  processGone,
  startTestbed,
  type Testbed,
} from "./test-helpers.ts";

const SCRAPE_S = 0.5;
/** Window 2 s = 4 scrapes; 2 more so that no sample from before the change is inside it. */
const SCRAPES_FOR_RATES = 6;
const MIB = 2 ** 20;

let bed: Testbed;
let collector: Collector;

beforeAll(async () => {
  if (!present && !process.env.CI) return;
  bed = await startTestbed(fakeDeployment(2), SCRAPE_S);
  await bed.prom.waitForScrape();
}, 60_000);

afterAll(async () => {
  if (!bed) return;
  await bed.close();
  // Nothing left behind: the server, its data directory, its port.
  expect(processGone(bed.prom.pid)).toBe(true);
  expect(existsSync(bed.prom.dir)).toBe(false);
  expect(await portFree(bed.prom.port)).toBe(true);
});

let generation = 0;

beforeEach(() => {
  if (!bed) return;
  // A fresh deployment of two healthy pods (new names, so new series) and a fresh collector
  // (no memory) per test. The previous test's pods vanish at the next scrape.
  generation++;
  const d = bed.exporter.deployment;
  d.pods.clear();
  for (const [name, pod] of fakeDeployment(2, undefined, generation).pods) d.pods.set(name, pod);
  d.desired = 2;
  d.readyReplicas = 2;
  d.unroutedRps = 0;
  bed.exporter.hidden.clear();
  collector = createCollector({
    url: bed.prom.url,
    namespace: NAMESPACE,
    deployment: DEPLOYMENT,
    stepSeconds: 1,
    scrapeIntervalS: SCRAPE_S,
  });
});

/**
 * Absolute rates within 20%: the exporter advances its counters by the time between the
 * requests' arrivals, Prometheus divides by the scheduled scrape times, and on a busy
 * machine the two differ by tens of ms per 500 ms interval. Ratios of series from one
 * scrape (error rate) are exact and checked tightly.
 */
function expectNear(actual: number, expected: number): void {
  expect(actual, `${actual} vs ${expected}`).toBeGreaterThan(expected * 0.8);
  expect(actual, `${actual} vs ${expected}`).toBeLessThan(expected * 1.2);
}

function name(i: number): string {
  return podName(i, generation);
}

function pod(i: number) {
  return bed.exporter.deployment.pods.get(name(i))!;
}

// Without Debian's prometheus a developer's run skips these; CI (which installs it) fails instead.
const present = findExecutable("prometheus") !== null;

describe.runIf(present || process.env.CI)("collector on a real Prometheus", () => {
  it("reads memory as working set over limit: 60% of the limit is 0.6", async () => {
    pod(0).memoryBytes = 0.6 * 256 * MIB;
    pod(1).memoryBytes = 0.6 * 256 * MIB;
    pod(0).memoryLimitBytes = 256 * MIB;
    pod(1).memoryLimitBytes = 256 * MIB;
    await bed.settle(2);
    const s = await collector.observe();
    // Latency may still be missing: these pods' histograms are younger than one rate window.
    expect(s.missing & (Missing.Memory | Missing.Pods)).toBe(0);
    expect(s.memory).toBeCloseTo(0.6, 9);
    expect(Array.from(s.podTable!.memory.subarray(0, 2))).toEqual([0.6, 0.6].map((x) => expect.closeTo(x, 9)));
  });

  it("reads cpu as the usage rate over the CFS limit, counting the app container once", async () => {
    pod(0).cpuCores = 0.3;
    pod(0).cpuLimitCores = 0.5;
    pod(1).cpuCores = 0.1;
    pod(1).cpuLimitCores = 0.5;
    await bed.settle(SCRAPES_FOR_RATES);
    const s = await collector.observe();
    // The pod-level cgroup (container="") repeats the usage: counted too, this would read 1.2 and 0.4.
    expectNear(s.podTable!.cpu[0]!, 0.6);
    expectNear(s.podTable!.cpu[1]!, 0.2);
    expectNear(s.cpu, 0.4);
  });

  it("reads request rate and error rate from counter rates, leaving probes out", async () => {
    pod(0).okRps = 30;
    pod(0).errorRps = 10;
    pod(1).okRps = 40;
    pod(1).errorRps = 0;
    await bed.settle(SCRAPES_FOR_RATES);
    const s = await collector.observe();
    expectNear(s.requestRate, 80);
    // Both counters advance at the same scrape instants, so the ratio is exact up to rounding.
    expect(s.errorRate).toBeCloseTo(10 / 80, 3);
    expect(s.podTable!.errorRate[0]).toBeCloseTo(0.25, 3);
    expect(s.podTable!.errorRate[1]).toBe(0);
    expect(s.podTable!.phase[0]).toBe(PodPhase.Degraded); // 25% errors > 5%
    expect(s.podTable!.phase[1]).toBe(PodPhase.Healthy);
  });

  it("counts requests no pod received (no endpoint) as offered load and as errors", async () => {
    bed.exporter.deployment.unroutedRps = 10;
    pod(0).okRps = 15;
    pod(1).okRps = 15;
    await bed.settle(SCRAPES_FOR_RATES);
    const s = await collector.observe();
    expectNear(s.requestRate, 40);
    expect(s.errorRate).toBeCloseTo(10 / 40, 3);
  });

  it("takes p95 latency from the histogram, interpolated inside the right bucket", async () => {
    // Every request 120 ms: all in the (0.1, 0.2] bucket, so p95 = 0.1 + 0.95 × 0.1 s exactly.
    pod(0).latenciesS = [0.12];
    pod(1).latenciesS = [0.12];
    await bed.settle(SCRAPES_FOR_RATES);
    let s = await collector.observe();
    expect(s.latencyMs).toBeCloseTo(195, 6);
    // One pod slow on 20% of its requests (300 ms, bucket (0.2, 0.3]), the other never: 10%
    // slow overall, so that pod's p95 and the service's both fall in that bucket.
    pod(0).latenciesS = [0.05, 0.05, 0.05, 0.05, 0.3];
    pod(1).latenciesS = [0.05];
    await bed.settle(SCRAPES_FOR_RATES);
    s = await collector.observe();
    expect(s.podTable!.latencyMs[0]).toBeGreaterThan(200);
    expect(s.podTable!.latencyMs[0]).toBeLessThanOrEqual(300);
    expect(s.podTable!.latencyMs[1]).toBeCloseTo(48.75, 6); // le is inclusive, (0.025, 0.05]: 25 + 0.95 × 25 ms
    expect(s.latencyMs).toBeGreaterThan(200);
    expect(s.latencyMs).toBeLessThanOrEqual(300);
  });

  it("counts pods by health from kube-state-metrics and keeps their names", async () => {
    const d = bed.exporter.deployment;
    d.pods.set(name(2), healthyPod({ phase: "Pending", ready: false }));
    d.pods.set(name(3), healthyPod({ ready: false, waitingReason: "CrashLoopBackOff", restarts: 3 }));
    d.pods.set(name(4), healthyPod({ deleting: true }));
    d.pods.set(name(5), healthyPod({ drained: true }));
    d.desired = 5;
    d.readyReplicas = 4;
    await bed.settle(2);
    const s = await collector.observe();
    expect(s.podNames).toEqual([0, 1, 2, 3, 4, 5].map(name));
    expect(Array.from(s.podTable!.phase.subarray(0, 6))).toEqual([
      PodPhase.Healthy,
      PodPhase.Healthy,
      PodPhase.Pending,
      PodPhase.Crashed,
      PodPhase.Terminating,
      PodPhase.Healthy,
    ]);
    expect(Array.from(s.podTable!.drained.subarray(0, 6))).toEqual([0, 0, 0, 0, 0, 1]);
    expect(s.podTable!.restarts[3]).toBe(3);
    expect({
      desired: s.desiredReplicas,
      ready: s.readyReplicas,
      pods: s.pods,
      healthy: s.healthy,
      degraded: s.degraded,
      crashed: s.crashed,
      pending: s.pending,
      terminating: s.terminating,
      drained: s.drained,
    }).toEqual({
      desired: 5,
      ready: 4,
      pods: 5,
      healthy: 3,
      degraded: 0,
      crashed: 1,
      pending: 1,
      terminating: 1,
      drained: 1,
    });
  });

  it("restarts the failure clock when a container restarts, and shows the pod restarting until ready", async () => {
    await bed.settle(2);
    const first = await collector.observe();
    pod(1).restarts = 1;
    pod(1).ready = false;
    await bed.settle(2);
    const second = await collector.observe();
    expect(second.sinceFailureS).toBe(0);
    expect(second.podTable!.phase[1]).toBe(PodPhase.Restarting);
    expect(second.time).toBeCloseTo(second.atUnixS - first.atUnixS, 6);
    pod(1).ready = true;
    await bed.settle(2);
    const third = await collector.observe();
    expect(third.podTable!.phase[1]).toBe(PodPhase.Healthy);
    expect(third.sinceFailureS).toBeCloseTo(third.atUnixS - second.atUnixS, 6);
  });

  it("counts a pod that vanishes without terminating as a failure (a kill)", async () => {
    await bed.settle(2);
    await collector.observe();
    bed.exporter.deployment.pods.delete(name(1));
    await bed.settle(2);
    const s = await collector.observe();
    expect(s.pods).toBe(1);
    expect(s.sinceFailureS).toBe(0);
  });

  it("does not count a pod the caller deleted, or one a scale-down removed, as a failure", async () => {
    const d = bed.exporter.deployment;
    d.pods.set(name(2), healthyPod());
    d.desired = 3;
    await bed.settle(2);
    const first = await collector.observe();
    expect(first.pods).toBe(3);
    // The restart action deletes pod 0 (its grace period ends between two scrapes).
    collector.noteDeleted(name(0));
    d.pods.delete(name(0));
    await bed.settle(2);
    const second = await collector.observe();
    expect(second.podNames).not.toContain(name(0));
    expect(second.sinceFailureS).toBeCloseTo(second.atUnixS - first.atUnixS, 6);
    // Scale-down from 3 to 2 removes pod 2.
    d.desired = 2;
    d.pods.delete(name(2));
    await bed.settle(2);
    const third = await collector.observe();
    expect(third.pods).toBe(1);
    expect(third.sinceFailureS).toBeCloseTo(third.atUnixS - first.atUnixS, 6);
  });

  it("marks a value missing when its series disappear, and recovers when they return", async () => {
    bed.exporter.hidden.add("container_memory_working_set_bytes");
    bed.exporter.hidden.add("http_requests_total");
    // A gauge is gone at the next scrape (staleness marker); a rate once its window has passed.
    await bed.settle(SCRAPES_FOR_RATES);
    let s = await collector.observe();
    expect(s.missing & Missing.Memory).toBe(Missing.Memory);
    expect(s.missing & Missing.RequestRate).toBe(Missing.RequestRate);
    expect(s.missing & Missing.ErrorRate).toBe(Missing.ErrorRate);
    expect(s.missing & Missing.Cpu).toBe(0);
    expect(s.memory).toBe(0);
    bed.exporter.hidden.clear();
    bed.exporter.hidden.add("kube_pod_status_phase");
    await bed.settle(SCRAPES_FOR_RATES);
    s = await collector.observe();
    // Without pod rows the means over serving pods are unknown too.
    expect(s.missing).toBe(Missing.Pods | Missing.Cpu | Missing.Memory);
    expect(s.podTable).toBeNull();
    expect(s.podNames).toEqual([]);
    bed.exporter.hidden.clear();
    await bed.settle(2);
    s = await collector.observe();
    expect(s.missing).toBe(0);
  });

  it("marks gauge families missing when their newest sample is stale", async () => {
    await bed.settle(2);
    // Evaluated 10 s ahead, the newest samples are 10 s old: Prometheus's 5-minute lookback
    // still returns them, the collector's staleness bound (3 scrapes = 1.5 s) must not.
    const s = await collector.observe(Date.now() / 1000 + 10);
    expect(s.missing & Missing.Pods).toBe(Missing.Pods);
    expect(s.missing & Missing.Cpu).toBe(Missing.Cpu); // no samples inside the rate window either
    expect(s.desiredReplicas).toBe(0);
  });

  it("reports a service with no serving pod as down: error rate 1, timeout latency", async () => {
    pod(0).ready = false;
    pod(1).drained = true;
    await bed.settle(2);
    const s = await collector.observe();
    expect(s.errorRate).toBe(1);
    expect(s.latencyMs).toBe(10_000);
    expect(s.cpu).toBe(0);
    expect(s.missing).toBe(0);
  });

  it("fails with a transient error when Prometheus is not there, and a terminal one on a refused query", async () => {
    const down = createCollector({
      url: "http://127.0.0.1:1",
      namespace: NAMESPACE,
      deployment: DEPLOYMENT,
      stepSeconds: 1,
    });
    const err = await down.observe().catch((e) => e);
    expect(err).toBeInstanceOf(PrometheusError);
    expect(err.code).toBe(PrometheusErrorCode.Unavailable);
    expect(err.transient).toBe(true);
    // A caller's abort is not Prometheus's failure: it comes through as the abort.
    const aborted = await collector.observe(undefined, AbortSignal.abort()).catch((e) => e);
    expect(aborted).not.toBeInstanceOf(PrometheusError);
    expect(aborted.name).toBe("AbortError");
    const bad = await queryInstant(bed.prom.url, "sum(", Date.now() / 1000, { timeoutMs: 5_000 }).catch((e) => e);
    expect(bad).toBeInstanceOf(PrometheusError);
    expect(bad.code).toBe(PrometheusErrorCode.BadQuery);
    expect(bad.transient).toBe(false);
  });
});
