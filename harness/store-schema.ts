/**
 * The trace store's tables (DESIGN.md, "Traces and metrics"): DDL, the schema version and
 * the lookup rows. The `steps` DDL is generated from `STEP_COLUMNS` (harness/trace.ts) so
 * the trace, the table and the appender can never list the columns differently.
 *
 * Bump {@link SCHEMA_VERSION} on any change to a table, and add the step from the previous
 * version to harness/store-migrate.ts: a store migrates an older file it knows how to (in
 * place, in one transaction) and refuses any other version instead of guessing. Columns are
 * only ever appended (ALTER TABLE ADD COLUMN appends), so a migrated file and a new one have
 * the same column order, which the appenders rely on. Views are not part of the version:
 * they are replaced from reports/views.ts every time a store is opened.
 */
import { registeredCodecs } from "./core/codecs.ts";
import { ACTION_NAMES } from "./core/contract.ts";
import { EPISODE_STATUSES, RUN_STATUSES } from "./core/runs.ts";
import { type ColumnType, GUARD_REASONS, STEP_COLUMNS } from "./trace.ts";

export const SCHEMA_VERSION = 5;

/** The data tables, in the order `exportParquet` writes them. */
export const DATA_TABLES = ["runs", "episodes", "steps", "events", "guard_reasons", "actions", "codecs"] as const;

/** `steps.codec` and the `codecs` row of a decision no codec fed (the noop fallback). */
export const NO_CODEC = { code: 0, name: "none" } as const;

const sqlList = (xs: readonly string[]) => xs.map((x) => `'${x}'`).join(", ");

/** `steps` column list after `episode_id`, from STEP_COLUMNS: reused by the DDL and by merge. */
export const STEP_COLUMN_NAMES: readonly string[] = STEP_COLUMNS.map(([name]) => name);

/** The `codecs` lookup table (schema version 5): `steps.codec` -> the registry's codec. */
export const CODECS_DDL = `CREATE TABLE IF NOT EXISTS codecs (code UTINYINT PRIMARY KEY, name VARCHAR NOT NULL, dim INTEGER NOT NULL)`;

/** One statement each; every one is idempotent (`IF NOT EXISTS`). */
export const TABLE_DDL: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, created_at TIMESTAMP NOT NULL)`,
  // The run context (google/benchmark's `context` block): written before any step.
  `CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    scenario_name VARCHAR NOT NULL,
    scenario_sha256 VARCHAR NOT NULL,
    scenario_text VARCHAR NOT NULL,
    plan_sha256 VARCHAR NOT NULL,
    shard VARCHAR,
    backend VARCHAR NOT NULL,
    git_sha VARCHAR,
    node_version VARCHAR NOT NULL,
    host VARCHAR NOT NULL,
    cpus INTEGER NOT NULL,
    argv JSON NOT NULL,
    model_checksums JSON NOT NULL,
    seeds INTEGER[] NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status VARCHAR NOT NULL CHECK (status IN (${sqlList(RUN_STATUSES)}))
  )`,
  // No foreign keys and no index but the primary key: they would slow the appenders,
  // and the store writes an episode's rows in one transaction anyway.
  `CREATE TABLE IF NOT EXISTS episodes (
    episode_id INTEGER PRIMARY KEY,
    run_id VARCHAR NOT NULL,
    episode_key VARCHAR NOT NULL,
    fault VARCHAR NOT NULL,
    frequency VARCHAR NOT NULL,
    policy VARCHAR NOT NULL,
    policy_name VARCHAR NOT NULL,
    seed INTEGER NOT NULL,
    backend VARCHAR NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN (${sqlList(EPISODE_STATUSES)})),
    error VARCHAR,
    steps INTEGER NOT NULL,
    step_seconds DOUBLE NOT NULL,
    confirm_window_s DOUBLE NOT NULL,
    slo_latency_ms DOUBLE NOT NULL,
    slo_error_rate DOUBLE NOT NULL,
    wall_ms DOUBLE NOT NULL,
    fault_specs JSON NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS steps (
    episode_id INTEGER NOT NULL,
    ${STEP_COLUMNS.map(([name, type]) => `${name} ${type} NOT NULL`).join(",\n    ")}
  )`,
  `CREATE TABLE IF NOT EXISTS events (
    episode_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    time_s DOUBLE NOT NULL,
    kind VARCHAR NOT NULL,
    action SMALLINT NOT NULL,
    pod_id INTEGER NOT NULL,
    fault_id INTEGER NOT NULL,
    detail VARCHAR NOT NULL,
    -- fault-injected on a pod: the target's rank among running pods (oldest 0), else -1.
    target_rank INTEGER NOT NULL,
    -- fault-injected, fault-skipped, fault-unreached: the scheduled FaultInjection (id, atS,
    -- spec, targetKey), so a recorded schedule replays exactly; else NULL.
    fault JSON,
    -- The pod's name and uid (schema version 5), '' for an event about no pod.
    pod_name VARCHAR NOT NULL DEFAULT '',
    pod_uid VARCHAR NOT NULL DEFAULT ''
  )`,
  `CREATE TABLE IF NOT EXISTS guard_reasons (code UTINYINT PRIMARY KEY, reason VARCHAR NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS actions (id UTINYINT PRIMARY KEY, name VARCHAR NOT NULL)`,
  CODECS_DDL,
];

/**
 * Fills the lookup tables. Guard reasons and actions are append-only in code, and a codec's
 * code is stable forever, so inserting the missing codes keeps old files current without
 * touching rows they already have. A function, not a constant: codecs register themselves
 * when their module is imported (policies/obs-v2.ts), so the list is read at each open.
 */
export function lookupDml(): string[] {
  const codecs = [NO_CODEC, ...registeredCodecs()].map(
    (c) => `(${c.code}, ${sqlString(c.name)}, ${"dim" in c ? c.dim : 0})`,
  );
  return [
    `INSERT INTO guard_reasons SELECT * FROM (VALUES ${GUARD_REASONS.map((r, i) => `(${i}, '${r}')`).join(", ")}) v(code, reason)
     WHERE code NOT IN (SELECT code FROM guard_reasons)`,
    `INSERT INTO actions SELECT * FROM (VALUES ${ACTION_NAMES.map((n, i) => `(${i}, '${n}')`).join(", ")}) v(id, name)
     WHERE id NOT IN (SELECT id FROM actions)`,
    `INSERT INTO codecs SELECT * FROM (VALUES ${codecs.join(", ")}) v(code, name, dim)
     WHERE code NOT IN (SELECT code FROM codecs)`,
  ];
}

/** The typed array that holds one `steps` column in its SQL type's memory layout (DuckDB's vector layout). */
export type StagingArray = Int32Array | Float64Array | Float32Array | Uint8Array;

export const STAGING_ARRAY: Record<ColumnType, new (length: number) => StagingArray> = {
  INTEGER: Int32Array,
  DOUBLE: Float64Array,
  FLOAT: Float32Array,
  UTINYINT: Uint8Array,
  // DuckDB stores a BOOLEAN as one byte, 0 or 1: the trace's 0/1 doubles convert exactly.
  BOOLEAN: Uint8Array,
};

/** Quotes a string as a SQL literal (paths in ATTACH and COPY cannot be bound parameters). */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}
