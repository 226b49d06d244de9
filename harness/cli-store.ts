/**
 * Opening trace stores from the command line, so that what is wrong with a `--db` reads as
 * one line naming the file, with the documented exit code:
 * - read-only commands (runs, metrics, report, compare, export) never create a database: a
 *   missing file is exit 2 with its path, not a fresh empty store and an empty table;
 * - a file that is no trace store (text, a directory, truncated, corrupt, another schema
 *   version) is exit 2; so is one of an older version that `harness migrate` (or any
 *   command that writes to it) would migrate: a read-only command never changes the file;
 * - a database locked by another process, or a full disk, is exit 1 (the input was fine).
 */
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { UsageError } from "./cli-errors.ts";
import { type RunRow, type StoreOptions, TraceStore } from "./store.ts";

/**
 * Opens an existing trace store; never creates one, and never migrates one: a file of an
 * older schema version is exit 2 naming `harness migrate` (harness/store-migrate.ts).
 */
export async function openExistingStore(path: string): Promise<TraceStore> {
  requireStoreFile(path, "--db");
  return TraceStore.open(path, { migrate: false });
}

/** Opens an existing trace store and migrates it to this build's schema version when older (`harness migrate`). */
export async function migrateExistingStore(path: string, onMigrated: StoreOptions["onMigrated"]): Promise<TraceStore> {
  requireStoreFile(path, "--db");
  return TraceStore.open(path, { migrate: true, ...(onMigrated ? { onMigrated } : {}) });
}

/** Opens the store holding training curves (`report --training`); never creates one. */
export async function openTrainingStore(path: string): Promise<TraceStore> {
  const file = resolve(path);
  if (!statSync(file, { throwIfNoEntry: false })?.isFile()) {
    throw new UsageError(`No training store at ${file} (harness train --db writes one)`);
  }
  return openExistingStore(path);
}

/** Refuses a path that is not an existing regular file; `flag` names it in the message. */
export function requireStoreFile(path: string, flag: string): void {
  const file = resolve(path);
  const st = statSync(file, { throwIfNoEntry: false });
  if (st === undefined) throw new UsageError(`No trace store at ${file} (${flag}): the file does not exist`);
  if (st.isDirectory()) throw new UsageError(`${file} (${flag}) is a directory; expected a DuckDB file`);
}

/** The run `id` names, or the latest; an unknown id is exit 2 naming the runs there are. */
export async function pickRun(store: TraceStore, id: string | undefined): Promise<RunRow> {
  const runs = await store.listRuns();
  if (runs.length === 0) throw new UsageError(`${store.path} holds no run`);
  const run = id === undefined ? runs.at(-1) : runs.find((r) => r.runId === id);
  if (run === undefined) {
    throw new UsageError(`No run ${id} in ${store.path}; it holds: ${runs.map((r) => r.runId).join(", ")}`);
  }
  return run;
}
