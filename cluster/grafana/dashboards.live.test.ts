/**
 * Every panel's query, and every annotation's, against a real Prometheus scraping the real
 * exporters, must come back with data (Grafana's "No data" fails): a renamed metric or label
 * in an exporter, or a broken query in a dashboard, fails here.
 * - controller.json and agent.json: the local testbed under the controller (autonomous, the
 *   agent service deciding, a chaos loop injecting a network delay) with the testbed's
 *   Prometheus scraping the testbed, the controller and the agent; the queries run once the
 *   controller has seen a chaos injection, an SLO breach and the recovery (events, not time).
 * - training.json: a real (tiny) PPO run's updates exported by the trainer's /metrics and
 *   scraped by a real Prometheus, each update scraped before the next is shown.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTraining } from "../../harness/cli-train.ts";
import { controllerConfigSchema } from "../../harness/controller/config.ts";
import { type AuditRecord, type ControllerHandle, startController } from "../../harness/controller/controller.ts";
import { takeSnapshot } from "../../harness/dashboard/snapshot.ts";
import { loadOnnxModel, type OnnxPolicyModel } from "../../policies/onnx-model.ts";
import { TrainingMetrics } from "../../policies/ppo/metrics.ts";
import { tinyPpoOptions } from "../../policies/ppo/test-helpers.ts";
import { buildAgentApp } from "../../policies/service/app.ts";
import { activeTargets } from "../prometheus/api.ts";
import { findExecutable, startPrometheus } from "../prometheus/runner.ts";
import { loadDashboard } from "./model.ts";
import { noData, type RunOptions, runDashboardQueries, runQuery } from "./query.ts";

const hasPrometheus = findExecutable("prometheus") !== null;
const dir = import.meta.dirname;
const MODEL = join(dir, "../../models/ppo-obs-v1.onnx");

/**
 * Resolves once every active target of the Prometheus at `url` has been scraped successfully
 * after `sinceMs`. Successfully: on a loaded machine a scrape can time out, and a failed one
 * updates `lastScrape` without storing a sample. (Beside stress-ng and two trainings, the
 * recovery's panels once read "No data" after a wait that did not check this.)
 */
async function scrapedSince(url: string, sinceMs: number, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const targets = await activeTargets(url, { timeoutMs: 10_000 });
    if (targets.length > 0 && targets.every((t) => t.health === "up" && Date.parse(t.lastScrape) > sinceMs)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `not every target scraped since ${new Date(sinceMs).toISOString()}: ${targets.map((t) => `${t.scrapeUrl} ${t.lastScrape} ${t.health}`).join(", ")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!hasPrometheus)("dashboards against the testbed, the controller and the agent", () => {
  let tmp: string;
  let model: OnnxPolicyModel | null = null;
  let agent: FastifyInstance | null = null;
  let ctl: ControllerHandle | null = null;
  let startUnixS = 0;
  const seen: string[] = [];

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "dashboards-live-"));
    model = await loadOnnxModel(MODEL);
    agent = await buildAgentApp({ model });
    const agentUrl = await agent.listen({ port: 0, host: "127.0.0.1" });
    startUnixS = Date.now() / 1000;
    const config = controllerConfigSchema.parse({
      name: "dashboards-live",
      backend: "local",
      intervalS: 2,
      mode: "autonomous",
      minReplicas: 2,
      maxReplicas: 4,
      minIntervalS: 4,
      agentUrl,
      // A loaded machine answers slowly: the agent may time out, and the heuristic decides then.
      agentTimeoutMs: 2000,
      policyTimeoutMs: 4000,
      fallback: "heuristic",
      // Generous ceilings, so that the service is healthy on a busy machine, and a delay far past them.
      slo: { latencyMs: 1000, errorRate: 0.2, confirmWindowS: 4 },
      chaos: {
        intervalS: 30,
        // After the first scrape of the controller: its counters are seen at 0 before they change.
        firstAfterS: 10,
        namespaces: ["chaos-rl"],
        faults: [{ type: "network-delay", durationS: 10, delayMs: 3000 }],
      },
      local: { replicas: 2, rps: 20 },
      listen: { port: 0 },
      batchSteps: 3,
    });
    const handle = await startController({ config, fileName: "live.yaml", text: "" }, { cwd: tmp });
    ctl = handle;
    // Prometheus's first scrape of the controller: an injection before it would show its counter
    // already at 1, and changes() (the annotation) would never see it change.
    let firstScrapeMs = Number.POSITIVE_INFINITY;
    const polling = (async () => {
      for (;;) {
        const t = (await activeTargets(handle.prometheusUrl!, { timeoutMs: 10_000 })).find(
          (x) => x.labels.job === "controller" && x.health === "up",
        );
        if (t) {
          firstScrapeMs = Date.parse(t.lastScrape);
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    // The events the panels and annotations show: an injection (after that scrape), the breach it causes, the recovery.
    await new Promise<void>((resolve, reject) => {
      const off = handle.onAudit((r: AuditRecord) => {
        if (r.type === "controller" && r.what === "chaos-injected" && Date.parse(r.at) > firstScrapeMs) {
          seen.push("chaos-injected");
        }
        if (r.type === "event" && (r.event.kind === "slo-breached" || r.event.kind === "recovered")) {
          seen.push(r.event.kind);
        }
        const i = seen.indexOf("chaos-injected");
        if (i >= 0 && seen.indexOf("recovered", i) > i) {
          off();
          resolve();
        }
      });
      void handle.done.then((err) => reject(new Error(`the controller's loop ended: ${err}`)));
    });
    await polling;
    // Twice: rate windows and increase() then hold samples from after the recovery.
    await scrapedSince(handle.prometheusUrl!, Date.now());
    await scrapedSince(handle.prometheusUrl!, Date.now());
  }, 300_000);

  afterAll(async () => {
    const left = (await ctl?.stop()) ?? [];
    await agent?.close();
    await model?.dispose();
    rmSync(tmp, { recursive: true, force: true });
    expect(left).toEqual([]);
  }, 120_000);

  const options = (): RunOptions => ({
    prometheusUrl: ctl!.prometheusUrl!,
    range: { startUnixS, endUnixS: Date.now() / 1000, stepS: 2, scrapeIntervalS: 1 },
    vars: { namespace: "chaos-rl", deployment: "demo" },
  });

  it("the testbed's Prometheus scrapes the controller and the agent", async () => {
    const jobs = (await activeTargets(ctl!.prometheusUrl!, { timeoutMs: 10_000 })).map((t) => t.labels.job);
    expect(jobs).toEqual(expect.arrayContaining(["controller", "agent", "kube-state-metrics", "kubelet", "ingress"]));
    expect(seen).toContain("slo-breached");
  });

  for (const file of ["controller.json", "agent.json"]) {
    it(`${file}: every panel's and annotation's query returns data`, async () => {
      const d = loadDashboard(join(dir, file));
      const results = await runDashboardQueries(d, options());
      expect(results.length).toBeGreaterThan(10);
      expect(noData(results)).toEqual([]);
    }, 120_000);
  }

  it("harness dashboard snapshot draws them, with the chaos and recovery annotations as rules", async () => {
    const o = options();
    const r = await takeSnapshot({
      prometheusUrl: o.prometheusUrl,
      outDir: join(tmp, "snapshot"),
      dashboards: [join(dir, "controller.json"), join(dir, "agent.json")],
      startUnixS: o.range.startUnixS,
      endUnixS: o.range.endUnixS,
      scrapeIntervalS: 1,
      vars: o.vars,
      png: false,
    });
    expect(r.dashboards.map((d) => d.noData)).toEqual([[], []]);
    const svg = readFileSync(r.dashboards[0]!.svg, "utf8");
    expect(svg).not.toContain("No data");
    // The rules of both annotations (their colours, reports/charts/panel.ts via snapshot.ts) in the time series.
    expect(svg).toMatch(/<line[^>]*stroke="#d62728"/);
    expect(svg).toMatch(/<line[^>]*stroke="#2ca02c"/);
  }, 120_000);

  it("a renamed metric fails the check (the check can fail)", async () => {
    const d = loadDashboard(join(dir, "controller.json"));
    const panel = d.panels.find((p) => p.title === "SLO health")!;
    const r = await runQuery(
      { where: "renamed", panel, expr: "controller_slo_health_renamed", legend: "x", instant: false },
      options(),
    );
    expect(noData([r])).toEqual([expect.stringMatching(/^renamed: no series for controller_slo_health_renamed/)]);
  });
});

describe.skipIf(!hasPrometheus)("training.json against a real training run's /metrics", () => {
  it("every panel's query returns data", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "dashboards-train-"));
    const metrics = new TrainingMetrics("live");
    try {
      // A real PPO run, tiny: its update metrics are what the trainer's /metrics serves.
      const { curve } = await runTraining({
        options: tinyPpoOptions(tmp, { totalTimesteps: 256 }),
        skipEvaluation: true,
        log: () => {},
      });
      expect(curve.length).toBe(4);
      const port = await metrics.listen(0);
      const prom = await startPrometheus({ targets: [{ address: `127.0.0.1:${port}`, job: "trainer" }] });
      try {
        const startUnixS = Date.now() / 1000;
        // One update per scrape, as a running trainer shows them.
        for (const m of curve) {
          metrics.record(m);
          await prom.waitForScrape({ sinceMs: Date.now(), timeoutMs: 120_000 });
        }
        await prom.waitForScrape({ sinceMs: Date.now(), timeoutMs: 120_000 });
        const results = await runDashboardQueries(loadDashboard(join(dir, "training.json")), {
          prometheusUrl: prom.url,
          range: { startUnixS, endUnixS: Date.now() / 1000, stepS: 1, scrapeIntervalS: 1 },
          vars: {},
        });
        expect(results.length).toBeGreaterThan(10);
        expect(noData(results)).toEqual([]);
      } finally {
        await prom.stop();
      }
    } finally {
      await metrics.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 300_000);
});
