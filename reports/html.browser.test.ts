/**
 * The HTML report in a real browser: headless Chromium (Debian's `chromium`, driven by
 * playwright-core) opens it from disk, with no console error, no request leaving the file,
 * and every chart drawn. The screenshot is kept in test-artifacts/ for a human to look at.
 * Without /usr/bin/chromium the test is skipped locally and fails under CI (.ci/run installs it).
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { TraceStore } from "../harness/store.ts";
import { tempDir } from "../harness/store-fixtures.ts";
import { writeReport } from "./report.ts";
import { buildFixtureStore } from "./test/fixture.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = join(import.meta.dirname, "..", "test-artifacts");
const present = existsSync(CHROMIUM);
const dir = tempDir("report-browser-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the HTML report in headless Chromium", () => {
  it.runIf(present || process.env.CI)(
    "opens without console errors or network requests, with every chart and table drawn",
    async () => {
      const db = join(dir, "golden.duckdb");
      await buildFixtureStore(db);
      const store = await TraceStore.open(db);
      let charts: string[];
      try {
        const outcome = await writeReport(store, { out: join(dir, "report"), png: false });
        charts = outcome.files.filter((f) => f.endsWith(".svg")).map((f) => f.split("/").at(-1)!.replace(".svg", ""));
      } finally {
        await store.close();
      }
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
      try {
        const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
        const problems: string[] = [];
        page.on("console", (m) => {
          if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
        });
        page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
        const url = pathToFileURL(join(dir, "report", "index.html")).href;
        page.on("request", (r) => {
          if (r.url() !== url) problems.push(`request: ${r.url()}`);
        });
        await page.goto(url, { waitUntil: "load" });
        expect(await page.title()).toBe("Report: golden");
        for (const name of charts) {
          const svg = page.locator(`figure[data-chart="${name}"] svg`);
          await expect.poll(() => svg.count(), { message: name }).toBe(1);
          const box = await svg.boundingBox();
          expect(box?.width, name).toBeGreaterThan(200);
          expect(box?.height, name).toBeGreaterThan(100);
          // Drawn, not an empty frame: the chart has marks.
          expect(await svg.locator("path, line, text").count(), name).toBeGreaterThan(10);
        }
        expect(charts).toEqual(
          expect.arrayContaining(["mttr", "uptime-heatmap", "cost-vs-uptime", "actions", "timeline-pod-kill"]),
        );
        expect(await page.locator("table").count()).toBeGreaterThan(5);
        // The verdict first, above the run context, with one item per policy (the fixture has two).
        const verdict = page.locator("section.verdict");
        await expect.poll(() => verdict.locator("li").count()).toBe(2);
        expect((await verdict.boundingBox())!.y).toBeLessThan((await page.locator("table.context").boundingBox())!.y);
        // Every table-of-contents link lands on an element of the page.
        const hrefs: string[] = [];
        for (const a of await page.locator("nav.toc a").all()) hrefs.push((await a.getAttribute("href"))!);
        expect(hrefs.length).toBeGreaterThan(5);
        for (const href of hrefs) expect(await page.locator(href).count(), href).toBe(1);
        // Paired cells with a verdict are tinted (color-mix resolved by the browser), others are not.
        const background = (sel: string) =>
          page.evaluate(`getComputedStyle(document.querySelector("${sel}")).backgroundColor`);
        const plain = await background("td.r:not(.winner)");
        const winner = await background("td.winner");
        expect(winner).not.toBe(plain);
        expect(winner).not.toMatch(/^rgba?\(255, 255, 255|^rgba\(0, 0, 0, 0\)/);
        expect(await page.locator("td.winner").count()).toBeGreaterThan(3);
        // Laid out for a laptop: the page itself does not scroll sideways.
        // A string: the project's tsconfig has no DOM types, and this runs in the page.
        const overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth");
        expect(overflow).toBeLessThanOrEqual(0);
        mkdirSync(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: join(ARTIFACTS, "report.png"), fullPage: true });
        expect(problems).toEqual([]);
      } finally {
        await browser.close();
      }
    },
  );
});
