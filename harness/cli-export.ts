/**
 * `harness export --parquet DIR [--run ID] [--overwrite]`: every table and metric view as
 * one Parquet file each, all runs or one. Rows are selected by the relation's own columns:
 * `run_id` where it has one, else its episodes' run, else (lookup tables) all of it. An
 * existing file is not replaced without `--overwrite`: exporting is no reason to lose data.
 */
import { existsSync, mkdirSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { VIEW_NAMES } from "../reports/views.ts";
import { UsageError } from "./cli-errors.ts";
import type { TraceStore } from "./store.ts";
import { DATA_TABLES, sqlString } from "./store-schema.ts";

export interface ExportOptions {
  readonly dir: string;
  /** Only this run's rows. @default every run */
  readonly runId?: string;
  /** Replace existing Parquet files. @default false */
  readonly overwrite?: boolean;
}

export async function exportParquetFiles(store: TraceStore, o: ExportOptions): Promise<string[]> {
  const out = resolve(o.dir);
  if (statSync(out, { throwIfNoEntry: false })?.isFile()) {
    throw new UsageError(`--parquet ${out} is a file; expected a folder for the Parquet files`);
  }
  const names = [...DATA_TABLES, ...VIEW_NAMES];
  const files = names.map((name) => resolve(out, `${name}.parquet`));
  const existing = files.filter((f) => existsSync(f));
  if (existing.length > 0 && o.overwrite !== true) {
    throw new UsageError(
      `${existing[0]} exists${existing.length > 1 ? ` (and ${existing.length - 1} more)` : ""}; pass --overwrite to replace, or export to another folder`,
    );
  }
  const columns = new Map<string, string[]>();
  for (const r of await store.query(
    "SELECT table_name AS t, list(column_name) AS c FROM information_schema.columns WHERE table_schema = 'main' GROUP BY 1",
  )) {
    columns.set(String(r.t), (r.c as string[]).map(String));
  }
  mkdirSync(out, { recursive: true });
  for (const [i, name] of names.entries()) {
    const cols = columns.get(name) ?? [];
    const where =
      o.runId === undefined
        ? ""
        : cols.includes("run_id")
          ? ` WHERE run_id = ${sqlString(o.runId)}`
          : cols.includes("episode_id")
            ? ` WHERE episode_id IN (SELECT episode_id FROM episodes WHERE run_id = ${sqlString(o.runId)})`
            : "";
    await store.query(`COPY (SELECT * FROM ${name}${where}) TO ${sqlString(files[i]!)} (FORMAT parquet)`);
  }
  return files;
}
