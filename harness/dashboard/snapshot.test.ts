/**
 * `harness dashboard snapshot` on a real Prometheus scraping a real trainer's /metrics (a tiny
 * PPO run's updates, each scraped before the next): the training dashboard comes out as one
 * SVG/PNG for the whole dashboard, one per panel, and an HTML page; a panel whose query has
 * no data says so in the picture and in the result; the CLI's time and variable flags parse
 * as documented. The controller and agent dashboards are snapshotted in
 * cluster/grafana/dashboards.live.test.ts, on the testbed.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findExecutable, type RunningPrometheus, startPrometheus } from "../../cluster/prometheus/runner.ts";
import { TrainingMetrics } from "../../policies/ppo/metrics.ts";
import { tinyPpoOptions } from "../../policies/ppo/test-helpers.ts";
import { runTraining } from "../cli-train.ts";
import { parseTime, parseVars } from "./cli.ts";
import { defaultStepS, takeSnapshot } from "./snapshot.ts";

const TRAINING = join(import.meta.dirname, "../../cluster/grafana/training.json");
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe("the snapshot command's flags", () => {
  it("reads times as Grafana writes them, ISO times and unix seconds", () => {
    expect(parseTime("now", "to", 1000)).toBe(1000);
    expect(parseTime("now-30m", "from", 10_000)).toBe(10_000 - 1800);
    expect(parseTime("now-2h", "from", 10_000)).toBe(10_000 - 7200);
    expect(parseTime("2026-12-02T18:00:00Z", "from", 0)).toBe(Date.parse("2026-12-02T18:00:00Z") / 1000);
    expect(parseTime("1700000000", "from", 0)).toBe(1_700_000_000);
    expect(() => parseTime("yesterday", "from", 0)).toThrow(/Expected --from to be now, now-<n>/);
  });

  it("reads --var name=value and names a bad one", () => {
    expect(parseVars(["namespace=chaos-rl", "deployment=a=b"])).toEqual({ namespace: "chaos-rl", deployment: "a=b" });
    expect(() => parseVars(["namespace"])).toThrow(/Expected --var name=value, got "namespace"/);
  });

  it("stops at the first query when Prometheus cannot be reached, instead of drawing every panel empty", async () => {
    const out = mkdtempSync(join(tmpdir(), "snapshot-down-"));
    try {
      await expect(
        takeSnapshot({
          prometheusUrl: "http://127.0.0.1:1",
          outDir: out,
          dashboards: [TRAINING],
          startUnixS: 0,
          endUnixS: 60,
        }),
      ).rejects.toThrow(/Prometheus (range )?query failed: ECONNREFUSED/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("picks about 300 points, never finer than the scrape interval", () => {
    expect(defaultStepS(1800, 15)).toBe(15);
    expect(defaultStepS(1800, 1)).toBe(6);
    expect(defaultStepS(60, 1)).toBe(1);
  });
});

describe.skipIf(findExecutable("prometheus") === null)("a snapshot of the training dashboard", () => {
  let tmp: string;
  let metrics: TrainingMetrics;
  let prom: RunningPrometheus;
  let startUnixS = 0;
  let endUnixS = 0;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "snapshot-"));
    const { curve } = await runTraining({
      options: tinyPpoOptions(tmp),
      skipEvaluation: true,
      log: () => {},
    });
    metrics = new TrainingMetrics("snap");
    const port = await metrics.listen(0);
    prom = await startPrometheus({ targets: [{ address: `127.0.0.1:${port}`, job: "trainer" }] });
    startUnixS = Date.now() / 1000;
    for (const m of curve) {
      metrics.record(m);
      await prom.waitForScrape({ sinceMs: Date.now(), timeoutMs: 120_000 });
    }
    await prom.waitForScrape({ sinceMs: Date.now(), timeoutMs: 120_000 });
    endUnixS = Date.now() / 1000;
  }, 300_000);

  afterAll(async () => {
    await prom?.stop();
    await metrics?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("writes the dashboard, each panel and an index page, every panel with data", async () => {
    const out = join(tmp, "out");
    const r = await takeSnapshot({
      prometheusUrl: prom.url,
      outDir: out,
      dashboards: [TRAINING],
      startUnixS,
      endUnixS,
      scrapeIntervalS: 1,
    });
    expect(r.stepS).toBe(1);
    const [d] = r.dashboards;
    expect(d!.noData).toEqual([]);
    expect(d!.panels).toBe(12);
    const svg = readFileSync(d!.svg, "utf8");
    expect(svg).toContain("chaos-rl: PPO training");
    for (const title of ["Episode reward", "Losses", "Entropy", "Steps per second (fps)"]) expect(svg).toContain(title);
    expect(svg).not.toContain("No data");
    expect(readFileSync(d!.png!).subarray(0, 8)).toEqual(PNG_SIGNATURE);
    // One SVG and one PNG per panel.
    const files = readdirSync(join(out, "chaos-rl-training"));
    expect(files.filter((f) => f.endsWith(".svg")).length).toBe(12);
    expect(files.filter((f) => f.endsWith(".png")).length).toBe(12);
    const html = readFileSync(r.index, "utf8");
    expect(html).toContain('<img src="chaos-rl-training.svg"');
    expect(html).toContain("Every query returned data.");
  }, 120_000);

  it("draws a panel whose query has no data as No data, and lists it", async () => {
    const broken = JSON.parse(readFileSync(TRAINING, "utf8"));
    const entropy = broken.panels.find((p: { title: string }) => p.title === "Entropy");
    entropy.targets[0].expr = "ppo_entropy_renamed";
    const file = join(tmp, "broken.json");
    writeFileSync(file, JSON.stringify(broken));
    const out = join(tmp, "broken-out");
    const r = await takeSnapshot({
      prometheusUrl: prom.url,
      outDir: out,
      dashboards: [file],
      startUnixS,
      endUnixS,
      scrapeIntervalS: 1,
      png: false,
    });
    const [d] = r.dashboards;
    expect(d!.noData).toEqual([expect.stringMatching(/^panel \d+ "Entropy" A: no series for ppo_entropy_renamed/)]);
    expect(readFileSync(d!.svg, "utf8")).toContain("No data");
    expect(d!.png).toBeNull();
    expect(existsSync(join(out, "chaos-rl-training.png"))).toBe(false);
    expect(readFileSync(r.index, "utf8")).toContain("ppo_entropy_renamed");
  }, 120_000);
});
