/**
 * The full matrix end to end on the simulator: expand, simulate through the controller
 * loop and guard on worker threads, write every step to a fresh DuckDB file. Prints wall
 * time, episodes/s, steps/s and the process's peak RSS (worker threads included).
 *
 * The target is stated for 6 x 3 x 5 x 20 = 1,800 episodes: should the scenario's policy
 * axis ever hold fewer than five entries, the bench adds one (hpa at an 80% CPU target).
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseDocument } from "yaml";
import { runScenario } from "../harness/runner.ts";
import { parseScenario } from "../harness/scenario-file.ts";

const FULL_MATRIX = fileURLToPath(new URL("../scenarios/full-matrix.yaml", import.meta.url));

export function fiveBaselineMatrix(): string {
  const doc = parseDocument(readFileSync(FULL_MATRIX, "utf8"));
  const policies = doc.getIn(["matrix", "policy"]) as { items: unknown[] };
  if (policies.items.length < 5) {
    doc.addIn(["matrix", "policy"], doc.createNode({ name: "hpa", label: "hpa80", params: { targetCpu: 0.8 } }));
  }
  return doc.toString();
}

export async function printMatrixBench(): Promise<void> {
  const text = fiveBaselineMatrix();
  const parsed = parseScenario(text, "full-matrix.yaml (+hpa80)");
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
      `matrix: full-matrix.yaml (+hpa80), ${summary.completed} episodes x ${parsed.data.scenario.steps} steps, ${jobs} worker threads, DuckDB ${(statSync(db).size / 1e6).toFixed(1)} MB`,
    );
    console.log(
      `  wall ${wallS.toFixed(2)} s   ${(summary.completed / wallS).toFixed(0)} episodes/s   ${Math.round(steps / wallS).toLocaleString("en-US")} steps/s   peak RSS ${rssMb.toFixed(0)} MB   failed ${summary.failed}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
