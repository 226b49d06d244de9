/**
 * Re-records the collector's fixtures (cluster/prometheus/fixtures/*.json): the replies of a
 * real Prometheus (Debian's, started by the runner) to the observation query, while it
 * scrapes the test exporter set to each scenario below, plus the raw error replies the API
 * client classifies. collector.fixtures.test.ts replays them through the same parsing and
 * assembly as a live observation.
 *
 *   npx tsx cluster/prometheus/record-fixtures.ts           # everything
 *   npx tsx cluster/prometheus/record-fixtures.ts --local   # only local-testbed.json
 *
 * `local-testbed.json` comes from the local testbed (cluster/local) instead of the test
 * exporter: the supervisor's own series, real replicas, a real pod kill and freeze.
 * Run it after changing queries.ts (the fixture test fails when a fixture's query is not
 * the current one). Takes about a minute: each scenario waits until its rate windows hold
 * only samples taken after the change.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { postQuery } from "./api.ts";
import { createCollector } from "./collector.ts";
import { defaultPodPattern, observationQuery, type QueryParams, rateWindowSeconds } from "./queries.ts";
import { type FakeDeployment, healthyPod } from "./test-exporter.ts";
import { DEPLOYMENT, fakeDeployment, NAMESPACE, podName, startTestbed, type Testbed } from "./test-helpers.ts";

const SCRAPE_S = 1;
const STEP_S = 1;
const WINDOW_S = rateWindowSeconds(SCRAPE_S, STEP_S);
/** Scrapes after a change until the rate window holds only new samples (window + 2). */
const SETTLE = Math.ceil(WINDOW_S / SCRAPE_S) + 2;
const MIB = 2 ** 20;

export const FIXTURE_DIR = fileURLToPath(new URL("./fixtures", import.meta.url));

export const FIXTURE_PARAMS: QueryParams & { readonly scrapeIntervalS: number; readonly stepSeconds: number } = {
  namespace: NAMESPACE,
  deployment: DEPLOYMENT,
  podPattern: defaultPodPattern(DEPLOYMENT),
  windowS: WINDOW_S,
  scrapeIntervalS: SCRAPE_S,
  stepSeconds: STEP_S,
};

/** One recorded fixture: the query and the replies, in observation order. */
export interface ObservationFixture {
  readonly description: string;
  readonly recordedWith: string;
  readonly params: typeof FIXTURE_PARAMS;
  readonly query: string;
  readonly observations: { readonly atUnixS: number; readonly reply: unknown }[];
}

/** Raw HTTP replies of refused or failed queries. */
export interface ErrorFixture {
  readonly recordedWith: string;
  readonly replies: Record<string, { readonly query: string; readonly status: number; readonly body: string }>;
}

interface Scenario {
  readonly description: string;
  /** Sets the exporter up, then records one or more observations through `observe`. */
  run(d: FakeDeployment, bed: Testbed, observe: (atUnixS?: number) => Promise<void>, gen: number): Promise<void>;
}

const scenarios: Record<string, Scenario> = {
  healthy: {
    description:
      "3 healthy pods: cpu 0.2 of 0.5 cores (0.4), memory 64 of 256 MiB (0.25), 20 rps each at 20 ms, no errors",
    async run(_d, bed, observe) {
      await bed.settle(SETTLE);
      await observe();
    },
  },
  "mixed-health": {
    description:
      "6 pods: healthy; degraded (10% of requests 300 ms + 20% errors); Pending; CrashLoopBackOff (3 restarts); terminating; drained. desired 5, ready 4",
    async run(d, bed, observe, gen) {
      d.pods.get(podName(1, gen))!.latenciesS = [0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.3];
      d.pods.get(podName(1, gen))!.okRps = 16;
      d.pods.get(podName(1, gen))!.errorRps = 4;
      d.pods.get(podName(2, gen))!.phase = "Pending";
      d.pods.get(podName(2, gen))!.ready = false;
      Object.assign(d.pods.get(podName(3, gen))!, { ready: false, waitingReason: "CrashLoopBackOff", restarts: 3 });
      d.pods.get(podName(4, gen))!.deleting = true;
      d.pods.get(podName(5, gen))!.drained = true;
      d.desired = 5;
      d.readyReplicas = 4;
      await bed.settle(SETTLE);
      await observe();
    },
  },
  restart: {
    description:
      "3 observations of 2 pods: both healthy; pod 1 restarted (restarts 1, not ready); pod 1 ready again; memory 60% of the limit",
    async run(d, bed, observe, gen) {
      for (const p of d.pods.values()) p.memoryBytes = 0.6 * 256 * MIB;
      await bed.settle(SETTLE);
      await observe();
      d.pods.get(podName(1, gen))!.restarts = 1;
      d.pods.get(podName(1, gen))!.ready = false;
      await bed.settle(2);
      await observe();
      d.pods.get(podName(1, gen))!.ready = true;
      await bed.settle(2);
      await observe();
    },
  },
  "missing-series": {
    description:
      "2 pods whose working-set and request series stopped (hidden one rate window ago): memory, request rate and error rate missing",
    async run(_d, bed, observe) {
      await bed.settle(SETTLE);
      bed.exporter.hidden.add("container_memory_working_set_bytes");
      bed.exporter.hidden.add("http_requests_total");
      await bed.settle(SETTLE);
      await observe();
    },
  },
  stale: {
    description: "2 healthy pods observed 10 s after the newest sample: every gauge family stale, rates empty",
    async run(_d, bed, observe) {
      await bed.settle(SETTLE);
      await observe(Date.now() / 1000 + 10);
    },
  },
  "no-serving-pod": {
    description: "2 pods, one not ready (failing readiness after having served), one drained: the service is down",
    async run(d, bed, observe, gen) {
      await bed.settle(SETTLE);
      await observe();
      d.pods.get(podName(0, gen))!.ready = false;
      d.pods.get(podName(1, gen))!.drained = true;
      d.readyReplicas = 1;
      await bed.settle(2);
      await observe();
    },
  },
};

const POD_COUNTS: Record<string, number> = { healthy: 3, "mixed-health": 6 };

function prometheusVersion(): string {
  // "prometheus, version 2.42.0+ds (branch: debian/sid, revision: ...)"
  return execFileSync("prometheus", ["--version"], { encoding: "utf8" }).split("\n", 1)[0]!;
}

async function record(): Promise<void> {
  mkdirSync(FIXTURE_DIR, { recursive: true });
  const bed = await startTestbed(fakeDeployment(0), SCRAPE_S);
  try {
    await bed.prom.waitForScrape();
    const query = observationQuery(FIXTURE_PARAMS);
    // Sanity: the collector builds exactly this query from the same options.
    const collector = createCollector({ url: bed.prom.url, ...FIXTURE_PARAMS });
    if (collector.query !== query) throw new Error("collector query differs from observationQuery(FIXTURE_PARAMS)");
    let gen = 0;
    for (const [name, scenario] of Object.entries(scenarios)) {
      gen++;
      const d = bed.exporter.deployment;
      d.pods.clear();
      bed.exporter.hidden.clear();
      const fresh = fakeDeployment(POD_COUNTS[name] ?? 2, () => healthyPod(), gen);
      for (const [n, p] of fresh.pods) d.pods.set(n, p);
      d.desired = fresh.desired;
      d.readyReplicas = fresh.readyReplicas;
      const observations: ObservationFixture["observations"] = [];
      const observe = async (atUnixS = Date.now() / 1000) => {
        observations.push({ atUnixS, reply: await postQuery(bed.prom.url, query, atUnixS, { timeoutMs: 10_000 }) });
      };
      await scenario.run(d, bed, observe, gen);
      const fixture: ObservationFixture = {
        description: scenario.description,
        recordedWith: prometheusVersion(),
        params: FIXTURE_PARAMS,
        query,
        observations,
      };
      writeFileSync(`${FIXTURE_DIR}${name}.json`, `${JSON.stringify(fixture, null, 1)}\n`);
      process.stdout.write(`recorded ${name} (${observations.length} observation(s))\n`);
    }
    // Error replies, raw: a syntax error (400), an execution error (422), a query timeout (503).
    const raw = async (query: string, extra: Record<string, string> = {}) => {
      const body = new URLSearchParams({ query, time: String(Date.now() / 1000), ...extra }).toString();
      const res = await fetch(`${bed.prom.url}/api/v1/query`, {
        method: "POST",
        body,
        headers: { "content-type": "application/x-www-form-urlencoded" },
      });
      return { query, status: res.status, body: await res.text() };
    };
    // The smallest timeout Prometheus accepts is 1 ms; the observation query takes longer,
    // nearly always. Tries until the reply is the timeout's 503.
    const timedOut = async () => {
      for (let i = 0; i < 20; i++) {
        const r = await raw(`${query} or sum(rate(http_request_duration_seconds_bucket[1h]))`, { timeout: "1ms" });
        if (r.status === 503) return r;
      }
      throw new Error("no query timed out at 1 ms in 20 tries");
    };
    const errors: ErrorFixture = {
      recordedWith: prometheusVersion(),
      replies: {
        syntax: await raw("sum(kube_pod_status_phase"),
        // Many-to-many matching: both sides have several series per (namespace).
        execution: await raw("kube_pod_status_phase * on (namespace) kube_pod_status_ready"),
        timeout: await timedOut(),
      },
    };
    writeFileSync(`${FIXTURE_DIR}errors.json`, `${JSON.stringify(errors, null, 1)}\n`);
    process.stdout.write("recorded errors\n");
  } finally {
    await bed.close();
  }
}

/** The namespace and deployment the local testbed's supervisor uses by default. */
export const LOCAL_PARAMS = { namespace: "chaos-rl", deployment: "demo" } as const;

/**
 * The same query against the local testbed (cluster/local: real replicas under the
 * supervisor, its kube-state-metrics/cAdvisor exporter, the balancer's per-pod request
 * series, a load generator at 40 rps): steady with 3 ready pods; right after one pod is
 * SIGKILLed and replaced; with one pod frozen until its readiness fails.
 */
async function recordLocal(): Promise<void> {
  const { Testbed } = await import("../local/testbed.ts");
  const bed = await Testbed.start({ deployment: { replicas: 3 }, scrapeIntervalS: SCRAPE_S });
  try {
    const prom = bed.prometheus!;
    const params = { ...FIXTURE_PARAMS, ...LOCAL_PARAMS, podPattern: defaultPodPattern(LOCAL_PARAMS.deployment) };
    const query = observationQuery(params);
    const collector = createCollector({ url: prom.url, ...params });
    const observations: ObservationFixture["observations"] = [];
    const observe = async () => {
      const atUnixS = Date.now() / 1000;
      observations.push({ atUnixS, reply: await postQuery(prom.url, query, atUnixS, { timeoutMs: 10_000 }) });
    };
    // Waits, scrape by scrape, until the collector sees what the step needs (an event, with a bound).
    const until = async (what: string, ok: (s: Awaited<ReturnType<typeof collector.observe>>) => boolean) => {
      for (let i = 0; i < 60; i++) {
        // Replicas come and go (and a frozen one stops answering): a tried scrape is enough.
        await prom.waitForScrape({ requireUp: false, timeoutMs: 20_000 });
        if (ok(await collector.observe())) return;
      }
      throw new Error(`local testbed: ${what} not seen within 60 scrapes`);
    };
    await bed.setLoadRate(40);
    await until("3 ready pods with every value", (s) => s.missing === 0 && s.healthy + s.degraded === 3);
    await observe();
    const victim = bed.supervisor.list()[0]!.name;
    bed.supervisor.kill(victim);
    await until("the killed pod gone", (s) => !s.podNames.includes(victim));
    await observe();
    await until("3 ready pods again", (s) => s.missing === 0 && s.healthy + s.degraded === 3);
    const frozen = bed.supervisor.list()[0]!.name;
    const unready = new Promise<number>((resolve) =>
      bed.supervisor.on("event", (e) => {
        if (e.kind === "pod-unready" && e.pod === frozen) resolve(e.at);
      }),
    );
    bed.supervisor.freeze(frozen);
    // The supervisor's readiness probe fails, then one scrape of every target shows it.
    const at = await unready;
    await prom.waitForScrape({ sinceMs: at, requireUp: false, timeoutMs: 20_000 });
    await observe();
    bed.supervisor.thaw(frozen);
    const fixture: ObservationFixture & { readonly events: { killed: string; frozen: string } } = {
      description:
        "local testbed, 3 replicas at 40 rps: steady; after SIGKILL of the oldest pod (replaced); with the then-oldest pod frozen (readiness failing)",
      recordedWith: prometheusVersion(),
      params,
      query,
      observations,
      events: { killed: victim, frozen },
    };
    writeFileSync(`${FIXTURE_DIR}local-testbed.json`, `${JSON.stringify(fixture, null, 1)}\n`);
    process.stdout.write("recorded local-testbed\n");
  } finally {
    const left = await bed.stop();
    // biome-ignore lint/correctness/noUnsafeFinally: processes left behind outrank a recording error
    if (left.length > 0) throw new Error(`local testbed left: ${left.join(", ")}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // `--local` records only the local testbed's fixture (it needs cgroups and stress-free CPU).
  if (!process.argv.includes("--local")) await record();
  await recordLocal();
}
