/**
 * The full-matrix report: 6 faults x 3 frequencies x 5 policies x 20 seeds = 1,800 episodes
 * (bench/matrix.ts `fullMatrixText`), simulated into a fresh DuckDB file, then
 * `writeReport` timed end to end (SQL, bootstrap intervals and paired tests at 2,000
 * resamples, every chart to SVG and PNG, HTML and Markdown). Target: under 10 s.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { runScenario } from "../harness/runner.ts";
import { parseScenario } from "../harness/scenario-file.ts";
import { TraceStore } from "../harness/store.ts";
import { writeReport } from "../reports/report.ts";
import { fullMatrixText } from "./matrix.ts";

export async function printReportBench(): Promise<void> {
  const parsed = parseScenario(fullMatrixText(), "full-matrix.yaml");
  if (!parsed.success) throw new Error(JSON.stringify(parsed.errors));
  const dir = mkdtempSync(join(tmpdir(), "harness-report-bench-"));
  const db = join(dir, "full-matrix.duckdb");
  try {
    const summary = await runScenario({ loaded: parsed.data, db, jobs: availableParallelism() });
    const store = await TraceStore.open(db);
    try {
      const t0 = performance.now();
      const outcome = await writeReport(store, { out: join(dir, "report") });
      const wallS = (performance.now() - t0) / 1000;
      const t = outcome.timings;
      const charts = outcome.files.filter((f) => f.endsWith(".svg")).length;
      console.log(
        `report: full-matrix.yaml, ${summary.completed} episodes, ${charts} charts (SVG + PNG), 2000 resamples`,
      );
      console.log(
        `  wall ${wallS.toFixed(2)} s   load ${(t.load / 1000).toFixed(2)} s   statistics ${(t.statistics / 1000).toFixed(2)} s   charts ${(t.charts / 1000).toFixed(2)} s   write ${(t.write / 1000).toFixed(2)} s   (target < 10 s)`,
      );
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
