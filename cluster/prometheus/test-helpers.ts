/**
 * Shared by the collector's integration tests, the fixture recorder and the bench: a test
 * exporter scraped by a real Prometheus, and the waits that make tests event-driven
 * (a scrape number reaching Prometheus) instead of sleeping.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import type { KubeObject } from "../kube/fake-apiserver.ts";
import { queryInstant, sampleValue } from "./api.ts";
import { type RunningPrometheus, startPrometheus } from "./runner.ts";
import {
  type FakeDeployment,
  type FakePod,
  healthyPod,
  SCRAPE_NUMBER,
  startTestExporter,
  type TestExporter,
} from "./test-exporter.ts";

export const NAMESPACE = "default";
export const DEPLOYMENT = "demo";

/**
 * `demo-7d4b9c8f6-<suffix>`, a ReplicaSet pod name. A new `generation` gives new series, so
 * one test's counters and histograms cannot leak into the next one's rate windows.
 */
export function podName(i: number, generation = 0): string {
  return `${DEPLOYMENT}-7d4b9c8f6-g${generation}p${String(i).padStart(3, "0")}`;
}

/** The demo deployment's pod as the API server returns it: running, ready, in the Service (label `serving`). */
export function runningPodObject(name: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: NAMESPACE, labels: { app: "demo", serving: "yes" } },
    spec: { containers: [{ name: "demo", resources: { limits: { cpu: "500m", memory: "256Mi" } } }] },
    status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
  };
}

export function fakeDeployment(
  pods: number,
  pod: (i: number) => FakePod = () => healthyPod(),
  generation = 0,
): FakeDeployment {
  return {
    namespace: NAMESPACE,
    name: DEPLOYMENT,
    desired: pods,
    readyReplicas: pods,
    pods: new Map(Array.from({ length: pods }, (_, i) => [podName(i, generation), pod(i)] as const)),
  };
}

export interface Testbed {
  readonly prom: RunningPrometheus;
  readonly exporter: TestExporter;
  /**
   * Resolves once Prometheus holds the `scrapes`-th scrape from now (counted from the
   * exporter's current count): after that many scrapes, every rate window of
   * `scrapes - 2` intervals holds only samples taken after the caller's change.
   */
  settle(scrapes: number): Promise<void>;
  close(): Promise<void>;
}

/** Polls Prometheus until the exporter's scrape `n` is queryable (an event, not a delay). */
export async function waitForIngest(url: string, n: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await queryInstant(url, `max(${SCRAPE_NUMBER})`, Date.now() / 1000, { timeoutMs: 5_000 });
    const got = reply.data.result[0] ? sampleValue(reply.data.result[0]) : 0;
    if (got >= n) return;
    if (Date.now() > deadline)
      throw new Error(`Prometheus did not ingest scrape ${n} within ${timeoutMs} ms (has ${got})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function startTestbed(deployment: FakeDeployment, scrapeIntervalS: number): Promise<Testbed> {
  const exporter = await startTestExporter(deployment);
  let prom: RunningPrometheus;
  try {
    prom = await startPrometheus({ targets: [{ address: exporter.address }], scrapeIntervalS });
  } catch (e) {
    await exporter.close();
    throw e;
  }
  const settle = async (scrapes: number) => {
    const target = exporter.scrapes + scrapes;
    await exporter.nextScrape(scrapes);
    await waitForIngest(prom.url, target);
  };
  return {
    prom,
    exporter,
    settle,
    async close() {
      await prom.stop();
      await exporter.close();
    },
  };
}

/** True when no live process has this pid (a zombie awaiting its reaper counts as gone). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
  try {
    // "pid (comm) S ...": the state letter follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return true;
  }
}

/** True when a TCP listener can bind 127.0.0.1:port. */
export async function portFree(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}
