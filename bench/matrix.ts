/**
 * The full matrix end to end on the simulator: expand, simulate through the controller
 * loop and guard on worker threads, write every step to a fresh DuckDB file. Prints wall
 * time, episodes/s, steps/s and the process's peak RSS (worker threads included).
 *
 * The target is stated for the scenario's 6 x 3 x 5 x 20 = 1,800 episodes (rl included).
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runScenario } from "../harness/runner.ts";
import { parseScenario } from "../harness/scenario-file.ts";

const FULL_MATRIX = fileURLToPath(new URL("../scenarios/full-matrix.yaml", import.meta.url));

export function fullMatrixText(): string {
  return readFileSync(FULL_MATRIX, "utf8");
}

export async function printMatrixBench(): Promise<void> {
  const parsed = parseScenario(fullMatrixText(), "full-matrix.yaml");
  if (!parsed.success) throw new Error(JSON.stringify(parsed.errors));
  const dir = mkdtempSync(join(tmpdir(), "harness-bench-"));
  const db = join(dir, "full-matrix.duckdb");
  const jobs = availableParallelism();
  try {
    const t0 = performance.now();
    const summary = await runScenario({ loaded: parsed.data, db, jobs });
    const wallS = (performance.now() - t0) / 1000;
    const steps = summary.completed * parsed.data.scenario.steps;
    const rssMb = process.resourceUsage().maxRSS / 1024;
    console.log(
      `matrix: full-matrix.yaml, ${summary.completed} episodes x ${parsed.data.scenario.steps} steps, ${jobs} worker threads, DuckDB ${(statSync(db).size / 1e6).toFixed(1)} MB`,
    );
    console.log(
      `  wall ${wallS.toFixed(2)} s   ${(summary.completed / wallS).toFixed(0)} episodes/s   ${Math.round(steps / wallS).toLocaleString("en-US")} steps/s   peak RSS ${rssMb.toFixed(0)} MB   failed ${summary.failed}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
