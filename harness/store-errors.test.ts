import { describe, expect, it } from "vitest";
import { exitCodeFor, failure } from "./cli-errors.ts";
import { HarnessError } from "./core/errors.ts";
import { storeFailure } from "./store-errors.ts";

describe("storeFailure: DuckDB's failures as catalogue codes, at the store's edge", () => {
  it("a lock held by another process is store_locked (exit 1), naming the file and the holder's PID", () => {
    const e = storeFailure(
      new Error(
        'IO Error: Could not set lock on file "/d/x.duckdb": Conflicting lock is held in /usr/bin/node (PID 8561). See also https://duckdb.org/docs/stable/connect/concurrency',
      ),
      "/d/x.duckdb",
      "Cannot open trace store /d/x.duckdb",
    );
    expect(e?.code).toBe("store_locked");
    expect(exitCodeFor(e!.code)).toBe(1);
    expect(e?.message).toBe(
      "/d/x.duckdb is locked by another process (PID 8561): wait for it to finish, or use another --db",
    );
  });

  it("a full disk is disk_full (exit 1) and keeps DuckDB's words (which file)", () => {
    const e = storeFailure(
      new Error(
        'TransactionContext Error: Failed to commit: Could not write file "/d/x.duckdb.wal": No space left on device',
      ),
      "/d/x.duckdb",
      "Trace store /d/x.duckdb: writing a batch of episodes failed",
    );
    expect(e?.code).toBe("disk_full");
    expect(e?.message).toMatch(
      /^Trace store \/d\/x\.duckdb: .*x\.duckdb\.wal": No space left on device \(the disk is full/,
    );
  });

  it("a file that is no trace store is store_unreadable (exit 2); anything else is not the store's to explain", () => {
    const e = storeFailure(
      new Error('IO Error: The file "/d/t.duckdb" exists, but it is not a valid DuckDB database file!'),
      "/d/t.duckdb",
      "Cannot open trace store /d/t.duckdb",
    );
    expect(e?.code).toBe("store_unreadable");
    expect(exitCodeFor(e!.code)).toBe(2);
    expect(storeFailure(new TypeError("x is undefined"), "/d/y.duckdb", "ctx")).toBeNull();
  });
});

describe("the CLI's failure(): the code decides, never the text", () => {
  it("maps a coded error by its kind, and prints its first line", () => {
    expect(failure(new HarnessError("store_locked", "held\nhint"))).toEqual({ code: 1, message: "held" });
    expect(failure(new HarnessError("usage", "bad flag"))).toEqual({ code: 2, message: "bad flag" });
    expect(failure(Object.assign(new Error("model refused"), { code: "CodecMismatch" }))).toEqual({
      code: 2,
      message: "model refused",
    });
  });

  it("treats an uncoded error as a bug (exit 1), whatever its message says", () => {
    const f = failure(new Error('Could not set lock on file "/d/x.duckdb": not a valid DuckDB database'));
    expect(f.code).toBe(1);
    expect(f.message).toMatch(/^harness: Could not set lock .*\(HARNESS_LOG_LEVEL=debug shows the stack\)$/);
    expect(failure(Object.assign(new Error("no such file"), { code: "ENOENT" })).code).toBe(1);
  });
});
