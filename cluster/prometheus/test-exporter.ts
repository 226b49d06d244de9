/**
 * A small real exporter for the collector's tests, fixtures and bench: a prom-client
 * registry served over HTTP that shows the series a cluster would have for one deployment
 * (kube-state-metrics, cAdvisor, the service's http metrics) with values the test sets.
 *
 * Rates are exact by construction: at every scrape each counter advances by its rate times
 * the time since the previous scrape, so `rate()` over any window reads the set rate (up to
 * scrape-time jitter). The histogram gets real `observe()` calls, cycling through the pod's
 * `latenciesS` list, so bucket proportions are those of the list.
 *
 * `nextScrape()` resolves when a scrape has been answered: the event tests wait for after
 * changing a value, instead of sleeping.
 */
import { createServer, type Server } from "node:http";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { LATENCY_BUCKETS_S } from "../service/server.ts";

export interface FakePod {
  phase: "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";
  ready: boolean;
  restarts: number;
  /** A waiting reason such as "CrashLoopBackOff", or none. */
  waitingReason?: string;
  /** Being deleted (kube_pod_deletion_timestamp present). */
  deleting?: boolean;
  drained?: boolean;
  /** CPU in use, cores. */
  cpuCores: number;
  /** CPU limit, cores (CFS quota / period). */
  cpuLimitCores: number;
  memoryBytes: number;
  memoryLimitBytes: number;
  /** Requests per second answered 200 and 500. */
  okRps: number;
  errorRps: number;
  /** Latencies the requests take, seconds, cycled through in order. */
  latenciesS: number[];
}

export interface FakeDeployment {
  namespace: string;
  name: string;
  desired: number;
  readyReplicas: number;
  pods: Map<string, FakePod>;
  /** Requests per second no pod received (503 from the Service with no endpoint). @default 0 */
  unroutedRps?: number;
}

/** Metric families a test can hide, as if their exporter stopped showing them. */
export type Family =
  | "kube_deployment_spec_replicas"
  | "kube_deployment_status_replicas_ready"
  | "kube_pod_status_phase"
  | "kube_pod_status_ready"
  | "kube_pod_container_status_restarts_total"
  | "kube_pod_container_status_waiting_reason"
  | "kube_pod_deletion_timestamp"
  | "kube_pod_labels"
  | "container_cpu_usage_seconds_total"
  | "container_spec_cpu_quota"
  | "container_spec_cpu_period"
  | "container_memory_working_set_bytes"
  | "container_spec_memory_limit_bytes"
  | "http_requests_total"
  | "http_request_duration_seconds";

export interface TestExporter {
  /** `127.0.0.1:<port>`, for a scrape target. */
  readonly address: string;
  /** What the next scrape shows; change it freely. */
  readonly deployment: FakeDeployment;
  /** Families left out of the next scrapes. */
  readonly hidden: Set<Family>;
  /** Scrapes answered so far. */
  readonly scrapes: number;
  /** Resolves once `n` more scrapes have been answered. @default 1 */
  nextScrape(n?: number): Promise<void>;
  close(): Promise<void>;
}

export function healthyPod(overrides: Partial<FakePod> = {}): FakePod {
  return {
    phase: "Running",
    ready: true,
    restarts: 0,
    cpuCores: 0.1,
    cpuLimitCores: 0.5,
    memoryBytes: 64 * 2 ** 20,
    memoryLimitBytes: 256 * 2 ** 20,
    okRps: 20,
    errorRps: 0,
    latenciesS: [0.02],
    ...overrides,
  };
}

/** The exporter's own gauge: which scrape (1, 2, ...) a sample came from. */
export const SCRAPE_NUMBER = "test_exporter_scrape_number";

const CONTAINER = "app";
const ROUTE = "/api/work";
const PHASES = ["Pending", "Running", "Succeeded", "Failed", "Unknown"] as const;
const CFS_PERIOD_US = 100_000;

interface Accumulated {
  cpuSeconds: number;
  ok: number;
  errors: number;
  /** Requests due to the histogram but not yet observed (fractions carry over). */
  histogramDue: number;
  latencyIndex: number;
}

export async function startTestExporter(deployment: FakeDeployment): Promise<TestExporter> {
  const registry = new Registry();
  const registers = [registry];
  const gauge = (name: Family, labelNames: string[]) => new Gauge({ name, help: name, labelNames, registers });
  const counter = (name: Family, labelNames: string[]) => new Counter({ name, help: name, labelNames, registers });
  const dep = ["namespace", "deployment"];
  const pod = ["namespace", "pod"];
  const ctr = ["namespace", "pod", "container"];
  const m = {
    specReplicas: gauge("kube_deployment_spec_replicas", dep),
    readyReplicas: gauge("kube_deployment_status_replicas_ready", dep),
    phase: gauge("kube_pod_status_phase", [...pod, "phase"]),
    ready: gauge("kube_pod_status_ready", [...pod, "condition"]),
    restarts: counter("kube_pod_container_status_restarts_total", ctr),
    waiting: gauge("kube_pod_container_status_waiting_reason", [...ctr, "reason"]),
    deletion: gauge("kube_pod_deletion_timestamp", pod),
    labels: gauge("kube_pod_labels", [...pod, "label_app", "label_chaos_rl_drained"]),
    cpu: counter("container_cpu_usage_seconds_total", ctr),
    quota: gauge("container_spec_cpu_quota", ctr),
    period: gauge("container_spec_cpu_period", ctr),
    workingSet: gauge("container_memory_working_set_bytes", ctr),
    memLimit: gauge("container_spec_memory_limit_bytes", ctr),
    requests: counter("http_requests_total", [...pod, "code", "route"]),
    // Not a cluster series: the number of the scrape that carried a sample, so a test can
    // wait until Prometheus holds the scrape it needs (see waitForIngest).
    scrapeNumber: new Gauge({ name: SCRAPE_NUMBER, help: "scrape number", registers }),
    duration: new Histogram({
      name: "http_request_duration_seconds",
      help: "http_request_duration_seconds",
      labelNames: [...pod, "code", "route"],
      buckets: LATENCY_BUCKETS_S,
      registers,
    }),
  };

  const acc = new Map<string, Accumulated>();
  let unrouted = 0;
  let last = performance.now();
  let scrapes = 0;

  const advance = () => {
    const now = performance.now();
    const dt = (now - last) / 1000;
    last = now;
    const ns = deployment.namespace;
    for (const g of Object.values(m)) if (!(g instanceof Histogram)) g.reset();
    m.scrapeNumber.set(scrapes + 1);
    m.specReplicas.set({ namespace: ns, deployment: deployment.name }, deployment.desired);
    m.readyReplicas.set({ namespace: ns, deployment: deployment.name }, deployment.readyReplicas);
    unrouted += (deployment.unroutedRps ?? 0) * dt;
    m.requests.inc({ namespace: ns, code: "503", route: ROUTE }, unrouted);
    for (const name of acc.keys()) {
      if (!deployment.pods.has(name)) {
        acc.delete(name);
        m.duration.remove({ namespace: ns, pod: name, code: "200", route: ROUTE });
      }
    }
    for (const [name, p] of deployment.pods) {
      let a = acc.get(name);
      if (a === undefined) {
        a = { cpuSeconds: 0, ok: 0, errors: 0, histogramDue: 0, latencyIndex: 0 };
        acc.set(name, a);
      } else {
        a.cpuSeconds += p.cpuCores * dt;
        a.ok += p.okRps * dt;
        a.errors += p.errorRps * dt;
        a.histogramDue += (p.okRps + p.errorRps) * dt;
      }
      const l = { namespace: ns, pod: name };
      const c = { ...l, container: CONTAINER };
      for (const phase of PHASES) m.phase.set({ ...l, phase }, p.phase === phase ? 1 : 0);
      m.ready.set({ ...l, condition: "true" }, p.ready ? 1 : 0);
      m.ready.set({ ...l, condition: "false" }, p.ready ? 0 : 1);
      m.restarts.inc(c, p.restarts);
      if (p.waitingReason !== undefined) m.waiting.set({ ...c, reason: p.waitingReason }, 1);
      if (p.deleting) m.deletion.set(l, Math.floor(Date.now() / 1000));
      m.labels.set({ ...l, label_app: deployment.name, label_chaos_rl_drained: p.drained ? "true" : "" }, 1);
      // cAdvisor also shows the pod's own cgroup (container="") and the pause container:
      // the collector must not count them on top of the app container.
      m.cpu.inc(c, a.cpuSeconds);
      m.cpu.inc({ ...l, container: "" }, a.cpuSeconds);
      m.cpu.inc({ ...l, container: "POD" }, 0);
      m.quota.set(c, p.cpuLimitCores * CFS_PERIOD_US);
      m.period.set(c, CFS_PERIOD_US);
      m.workingSet.set(c, p.memoryBytes);
      m.workingSet.set({ ...l, container: "" }, p.memoryBytes);
      m.memLimit.set(c, p.memoryLimitBytes);
      m.requests.inc({ ...l, code: "200", route: ROUTE }, a.ok);
      m.requests.inc({ ...l, code: "500", route: ROUTE }, a.errors);
      // Probes are not service traffic: the collector must leave them out.
      m.requests.inc({ ...l, code: "200", route: "/health" }, 0);
      for (; a.histogramDue >= 1 && p.latenciesS.length > 0; a.histogramDue--) {
        m.duration.observe({ ...l, code: "200", route: ROUTE }, p.latenciesS[a.latencyIndex % p.latenciesS.length]!);
        a.latencyIndex++;
      }
    }
  };

  const hidden = new Set<Family>();
  let waiters: { at: number; resolve: () => void }[] = [];
  const server: Server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    advance();
    void (async () => {
      const parts: string[] = [];
      for (const metric of await registry.getMetricsAsJSON()) {
        if (hidden.has(metric.name as Family)) continue;
        parts.push(await registry.getSingleMetricAsString(metric.name));
      }
      res.once("finish", () => {
        scrapes++;
        const due = waiters.filter((w) => w.at <= scrapes);
        waiters = waiters.filter((w) => w.at > scrapes);
        for (const w of due) w.resolve();
      });
      res.writeHead(200, { "content-type": registry.contentType });
      res.end(parts.join("\n"));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    address: `127.0.0.1:${port}`,
    deployment,
    hidden,
    get scrapes() {
      return scrapes;
    },
    nextScrape(n = 1) {
      return new Promise((resolve) => waiters.push({ at: scrapes + n, resolve }));
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
