import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { OperationError, UsageError } from "./cli-errors.ts";
import { openTrainingStore, storeError } from "./cli-store.ts";

describe("storeError: what the CLI makes of a trace store failure", () => {
  it("a lock held by another process is exit 1, naming the file and the holder's PID", () => {
    const e = storeError(
      new Error(
        'Cannot open trace store /d/x.duckdb: IO Error: Could not set lock on file "/d/x.duckdb": Conflicting lock is held in /usr/bin/node (PID 8561). See also https://duckdb.org/docs/stable/connect/concurrency',
      ),
    );
    expect(e).toBeInstanceOf(OperationError);
    expect(e?.message).toBe(
      "/d/x.duckdb is locked by another process (PID 8561): wait for it to finish, or use another --db",
    );
  });

  it("a full disk is exit 1 and keeps DuckDB's words (which file)", () => {
    const e = storeError(
      new Error(
        'Trace store /d/x.duckdb: writing a batch of episodes failed: TransactionContext Error: Failed to commit: Could not write file "/d/x.duckdb.wal": No space left on device',
      ),
    );
    expect(e).toBeInstanceOf(OperationError);
    expect(e?.message).toMatch(
      /^Trace store \/d\/x\.duckdb: .*x\.duckdb\.wal": No space left on device \(the disk is full/,
    );
  });

  it("a file that is no trace store is exit 2; anything else is not the store's to explain", () => {
    const text = storeError(
      new Error('IO Error: The file "/d/t.duckdb" exists, but it is not a valid DuckDB database file!'),
    );
    expect(text).toBeInstanceOf(UsageError);
    expect(
      storeError(new Error("/d/y.duckdb has trace store schema version 0; this build reads version 1")),
    ).toBeInstanceOf(UsageError);
    expect(storeError(new TypeError("x is undefined"))).toBeNull();
  });
});

describe("openTrainingStore (report --training)", () => {
  it("refuses a missing file as input (exit 2) naming it, and creates nothing", async () => {
    const missing = join(tmpdir(), `absent-${process.pid}.duckdb`);
    await expect(openTrainingStore(missing)).rejects.toThrow(
      new UsageError(`No training store at ${missing} (harness train --db writes one)`),
    );
    expect(existsSync(missing)).toBe(false);
  });
});
