/**
 * Schema migrations of the trace store: what turns a file of an older schema version into
 * the current one, in place. Each step takes version n to n + 1; a file is migrated through
 * every step from its version in ONE transaction (with its lookup rows and its version row),
 * so a crash or an error leaves it at its old version, untouched.
 *
 * Only writing commands migrate (a run into the file, a merge into it, the controller,
 * training, `harness migrate`): a read-only command (runs, metrics, report, compare, export,
 * explain, replay, calibrate) never changes a file behind its owner's back, and refuses an
 * old one with the command that migrates it (harness/store.ts `prepareSchema`).
 *
 * Columns are appended with a default for the rows already there, then made NOT NULL and the
 * default dropped where a new file has none, so that a migrated file and a new one have the
 * same columns in the same order (the appenders write by position).
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { CODECS_DDL, lookupDml, SCHEMA_VERSION } from "./store-schema.ts";

/**
 * The value rows written before a column existed read, as SQL, by table and column: what a
 * migration fills in, and what a merge gives the rows of an older source (store-merge.ts).
 */
export const ADDED_COLUMN_VALUES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  // v5: every v4 decision reads codec 1 (obs-v1): no registered policy named another codec
  // while v4 files were written. A step decided by the noop fallback (0 from v5 on) reads 1
  // too. Pods of v4 event rows are known by pod_id only.
  steps: { codec: "1" },
  events: { pod_name: "''", pod_uid: "''" },
};

/** The statements that take a file from version `n` (the key) to `n + 1`. */
export const MIGRATIONS: Readonly<Record<number, readonly string[]>> = {
  // v4 -> v5 (issue 11): which codec fed each decision, and pods named in event rows.
  4: [
    `ALTER TABLE steps ADD COLUMN codec UTINYINT DEFAULT ${ADDED_COLUMN_VALUES.steps!.codec}`,
    `ALTER TABLE steps ALTER COLUMN codec SET NOT NULL`,
    // A new file's `codec` has no default (every row is appended with one).
    `ALTER TABLE steps ALTER COLUMN codec DROP DEFAULT`,
    `ALTER TABLE events ADD COLUMN pod_name VARCHAR DEFAULT ''`,
    `ALTER TABLE events ALTER COLUMN pod_name SET NOT NULL`,
    `ALTER TABLE events ADD COLUMN pod_uid VARCHAR DEFAULT ''`,
    `ALTER TABLE events ALTER COLUMN pod_uid SET NOT NULL`,
    CODECS_DDL,
  ],
};

/** The oldest schema version a store can migrate from. */
export const OLDEST_MIGRATABLE = Math.min(...Object.keys(MIGRATIONS).map(Number));

/** True when a file of `version` can be migrated to the current one. */
export function canMigrate(version: number): boolean {
  return Number.isInteger(version) && version >= OLDEST_MIGRATABLE && version < SCHEMA_VERSION;
}

export interface Migration {
  readonly from: number;
  readonly to: number;
  readonly ms: number;
}

/**
 * Migrates the store open on `con` from `from` to {@link SCHEMA_VERSION} in one
 * transaction: every step's statements, the lookup rows, and one `schema_version` row per
 * step. Rolled back whole on any error, which is rethrown.
 */
export async function migrateSchema(con: DuckDBConnection, from: number): Promise<Migration> {
  if (!canMigrate(from)) throw new Error(`No migration from trace store schema version ${from}`);
  const t0 = performance.now();
  await con.run("BEGIN TRANSACTION");
  try {
    for (let v = from; v < SCHEMA_VERSION; v++) {
      for (const sql of MIGRATIONS[v]!) await con.run(sql);
      await con.run("INSERT INTO schema_version VALUES (?, current_timestamp::TIMESTAMP)", [v + 1]);
    }
    for (const dml of lookupDml()) await con.run(dml);
    await con.run("COMMIT");
  } catch (err) {
    await con.run("ROLLBACK").catch(() => {});
    throw err;
  }
  return { from, to: SCHEMA_VERSION, ms: performance.now() - t0 };
}
