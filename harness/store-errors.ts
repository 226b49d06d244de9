/**
 * DuckDB's failures as the catalogue's codes, at the store's edge. DuckDB's errors carry no
 * codes of their own, only text, so this is the one place that reads message text: a lock
 * held by another process (`store_locked`), a full disk (`disk_full`), or a file that is no
 * trace store (`store_unreadable`). Everything above (the CLI first) acts on the code.
 */
import { resolve } from "node:path";
import { HarnessError } from "./core/errors.ts";

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split("\n")[0]!.trim();
}

/**
 * The coded error for a DuckDB failure on the store at `path`, with `context` before
 * DuckDB's words; null when the failure is none of the known ones (a bug, reported as such).
 */
export function storeFailure(err: unknown, path: string, context: string): HarnessError | null {
  if (err instanceof HarnessError) return err;
  const text = firstLine(err);
  if (/Could not set lock on file/.test(text)) {
    const pid = /PID (\d+)/.exec(text)?.[1];
    const lockFile = /lock on file "([^"]+)"/.exec(text)?.[1] ?? resolve(path);
    return new HarnessError(
      "store_locked",
      `${lockFile} is locked by another process${pid === undefined ? "" : ` (PID ${pid})`}: wait for it to finish, or use another --db`,
      { cause: err },
    );
  }
  if (/No space left on device|Disk full|disk is full/i.test(text)) {
    return new HarnessError("disk_full", `${context}: ${text} (the disk is full; episodes committed before are kept)`, {
      cause: err,
    });
  }
  if (
    /not a valid DuckDB database|Could not read enough bytes|Is a directory|Corrupt|checksum|Not a directory|Permission denied|Read-only file system/i.test(
      text,
    )
  ) {
    return new HarnessError("store_unreadable", `${context}: ${text}`, { cause: err });
  }
  return null;
}
