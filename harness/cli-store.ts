/**
 * Opening trace stores from the command line, so that what is wrong with a `--db` reads as
 * one line naming the file, with the documented exit code:
 * - read-only commands (runs, metrics, report, compare, export) never create a database: a
 *   missing file is exit 2 with its path, not a fresh empty store and an empty table;
 * - a file that is no trace store (text, a directory, truncated, corrupt, another schema
 *   version) is exit 2;
 * - a database locked by another process, or a full disk, is exit 1 (the input was fine).
 */
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { OperationError, oneLine, UsageError } from "./cli-errors.ts";
import { type RunRow, TraceStore } from "./store.ts";

/** Opens an existing trace store; never creates one. */
export async function openExistingStore(path: string): Promise<TraceStore> {
  requireStoreFile(path, "--db");
  return TraceStore.open(path).catch((err: unknown) => {
    throw storeError(err, path) ?? err;
  });
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

/**
 * The CLI's reading of a trace store failure: input (exit 2), environment (exit 1), or
 * null when it is neither (a bug, reported as such).
 */
export function storeError(err: unknown, path?: string): UsageError | OperationError | null {
  if (err instanceof UsageError || err instanceof OperationError) return err;
  const text = oneLine(err);
  const file = path === undefined ? "" : `${resolve(path)}: `;
  const where = text.includes("/") || file === "" ? "" : file;
  if (/Could not set lock on file/.test(text)) {
    const pid = /PID (\d+)/.exec(text)?.[1];
    const lockFile = /lock on file "([^"]+)"/.exec(text)?.[1] ?? resolve(path ?? "");
    return new OperationError(
      `${lockFile} is locked by another process${pid === undefined ? "" : ` (PID ${pid})`}: wait for it to finish, or use another --db`,
    );
  }
  if (/No space left on device|Disk full|disk is full/i.test(text)) {
    return new OperationError(`${where}${text} (the disk is full; episodes committed before are kept)`);
  }
  if (
    /not a valid DuckDB database|Could not read enough bytes|is not a trace store|trace store schema version|Is a directory|Corrupt|checksum|Not a directory|Permission denied|Read-only file system/i.test(
      text,
    )
  ) {
    return new UsageError(`${where}${text}`);
  }
  return null;
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
