/**
 * The PromQL collector's latency per observation (target p99 <= 20 ms), against a real
 * Prometheus (Debian's, started by the runner, 1 s scrapes) scraping the test exporter
 * with 10 pods' worth of kube-state-metrics, cAdvisor and http series:
 *
 * - observe: `collector.observe()` end to end (one HTTP round trip, zod, assembly);
 * - of which query: the same POST without parsing (HTTP + PromQL evaluation);
 * - of which evaluation: Prometheus's own execTotalTime for that query (`stats=all`);
 * - of which assembly: zod parsing and snapshot assembly of one recorded reply, in process.
 *
 * Observations are paced every 20 ms (a loop observes once per step, not back to back) and
 * evaluated at "now", as the loop does.
 *
 *   npm run bench -- collector
 */
import { parseVectorReply, postQuery } from "../cluster/prometheus/api.ts";
import { assembleSnapshot, createCollector, createCollectorMemory } from "../cluster/prometheus/collector.ts";
import { PrometheusError } from "../cluster/prometheus/errors.ts";
import { DEPLOYMENT, fakeDeployment, NAMESPACE, startTestbed } from "../cluster/prometheus/test-helpers.ts";

export interface CollectorBenchOptions {
  /** Pods in the deployment. @default 10 */
  readonly pods?: number;
  /** Timed observations. @default 1000 */
  readonly observations?: number;
  /** Untimed observations first. @default 50 */
  readonly warmup?: number;
  /** Pause between observations, ms. @default 20 */
  readonly paceMs?: number;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function fmt(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `p50 ${quantile(s, 0.5).toFixed(2)} ms, p99 ${quantile(s, 0.99).toFixed(2)} ms, max ${s[s.length - 1]!.toFixed(2)} ms`;
}

export async function printCollectorBench(options: CollectorBenchOptions = {}): Promise<void> {
  const pods = options.pods ?? 10;
  const n = options.observations ?? 1000;
  const warmup = options.warmup ?? 50;
  const paceMs = options.paceMs ?? 20;
  const pause = () => new Promise((r) => setTimeout(r, paceMs));
  let bed: Awaited<ReturnType<typeof startTestbed>>;
  try {
    bed = await startTestbed(fakeDeployment(pods), 1);
  } catch (e) {
    if (e instanceof PrometheusError) {
      console.log(`collector: skipped: ${e.message}`);
      return;
    }
    throw e;
  }
  try {
    await bed.prom.waitForScrape();
    // Rates need two samples inside the 4 s window before every value is there.
    await bed.settle(6);
    const collector = createCollector({
      url: bed.prom.url,
      namespace: NAMESPACE,
      deployment: DEPLOYMENT,
      stepSeconds: 1,
    });
    const first = await collector.observe();
    if (first.missing !== 0 || first.pods !== pods) {
      throw new Error(
        `collector bench: expected ${pods} pods and nothing missing, got ${first.pods} pods, missing ${first.missing}`,
      );
    }
    const observe: number[] = [];
    const query: number[] = [];
    const evaluation: number[] = [];
    let reply: unknown = null;
    for (let i = 0; i < warmup + n; i++) {
      const t0 = performance.now();
      await collector.observe();
      const t1 = performance.now();
      await pause();
      const t2 = performance.now();
      reply = await postQuery(bed.prom.url, collector.query, Date.now() / 1000, {
        timeoutMs: 5_000,
        extra: { stats: "all" },
      });
      const t3 = performance.now();
      if (i >= warmup) {
        observe.push(t1 - t0);
        query.push(t3 - t2);
        const stats = (reply as { data: { stats?: { timings?: { execTotalTime?: number } } } }).data.stats;
        evaluation.push((stats?.timings?.execTotalTime ?? Number.NaN) * 1000);
      }
      await pause();
    }
    const assembly: number[] = [];
    const memory = createCollectorMemory();
    const opts = {
      staleAfterS: 3,
      timeoutLatencyMs: 10_000,
      degraded: { latencyMs: 200, errorRate: 0.05, memory: 0.9 },
    };
    for (let i = 0; i < warmup + n; i++) {
      const t0 = performance.now();
      assembleSnapshot(parseVectorReply(reply).data.result, Date.now() / 1000, opts, memory);
      if (i >= warmup) assembly.push(performance.now() - t0);
    }
    const samples = parseVectorReply(reply).data.result.length;
    console.log(`collector (${pods} pods, ${samples} samples per reply, ${n} observations every ${2 * paceMs} ms)`);
    console.log(`  observe             ${fmt(observe)}   (target p99 <= 20 ms)`);
    console.log(`  of which query      ${fmt(query)}`);
    console.log(`  of which evaluation ${fmt(evaluation)}   (Prometheus's execTotalTime)`);
    console.log(`  of which assembly   ${fmt(assembly)}`);
  } finally {
    await bed.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await printCollectorBench();
