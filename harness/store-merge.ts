/**
 * Merging trace store files (shards of one plan, or runs made on several machines) into
 * one, entirely in SQL over an ATTACHed source, in one transaction per source:
 *
 * - runs: a run_id new to the target is copied; a run_id already there (another shard of
 *   the same plan) becomes one row: shards joined as a comma list sorted by shard index,
 *   NULL once every shard "i/n" of n is present (or either side was unsharded); started_at
 *   the earliest, finished_at the latest, seeds the union, and status `completed` only if
 *   both are (else the worst of failed > interrupted > running).
 * - episodes: matched on (run_id, episode_key). A source episode whose key the target
 *   already has is skipped, unless the target's is not completed and the source's is, in
 *   which case it replaces it. Copied episodes get new ids after the target's largest, and
 *   their steps and events follow them.
 *
 * Merging the same source twice changes nothing the second time. A source of an older schema
 * version that store-migrate.ts can migrate is merged as it is (it is attached read-only):
 * the columns it lacks get the values its migration would give them.
 *
 * Refused, before anything is written: a run id that holds another plan in the source
 * (a different scenario text or narrowing), and shards of one run cut into different
 * numbers of slices (1/2 with 2/3): their union is neither run, yet would read `completed`.
 */
import { existsSync } from "node:fs";
import type { DuckDBConnection } from "@duckdb/node-api";
import { HarnessError } from "./core/errors.ts";
import { ADDED_COLUMN_VALUES, canMigrate } from "./store-migrate.ts";
import { SCHEMA_VERSION, STEP_COLUMN_NAMES, sqlString } from "./store-schema.ts";

export interface SourceMergeSummary {
  readonly source: string;
  /** Runs new to the target. */
  readonly runsAdded: number;
  /** Runs already in the target that the source's row was merged into. */
  readonly runsMerged: number;
  readonly episodesAdded: number;
  /** Target episodes that were not completed, replaced by the source's completed ones. */
  readonly episodesReplaced: number;
  /** Source episodes whose key the target already had. */
  readonly episodesSkipped: number;
}

/** A source that cannot be merged (missing, not a trace store, incompatible): the user's input. */
export class MergeRefusedError extends HarnessError {
  override name = "MergeRefusedError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("merge_refused", message, options);
  }
}

const SRC = "merge_source";

const MACROS = [
  // "1/4,3/4" + "2/4" -> "1/4,2/4,3/4"; NULL when all n shards are there or a side is whole.
  `CREATE OR REPLACE TEMP MACRO merge_shards(a, b) AS (
    CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE (
      SELECT CASE WHEN count(*) = max(split_part(p, '/', 2)::INTEGER) THEN NULL
                  ELSE string_agg(p, ',' ORDER BY split_part(p, '/', 1)::INTEGER) END
      FROM (SELECT DISTINCT trim(unnest(string_split(a || ',' || b, ','))) AS p)
    ) END)`,
  `CREATE OR REPLACE TEMP MACRO status_rank(s) AS
    CASE s WHEN 'completed' THEN 0 WHEN 'running' THEN 1 WHEN 'interrupted' THEN 2 ELSE 3 END`,
  `CREATE OR REPLACE TEMP MACRO merge_status(a, b) AS
    CASE WHEN status_rank(a) >= status_rank(b) THEN a ELSE b END`,
];

/** Merges the store file `source` into the store open on `con` (whose file is `target`). */
export async function mergeSource(con: DuckDBConnection, target: string, source: string): Promise<SourceMergeSummary> {
  if (source === target) throw new MergeRefusedError(`Cannot merge trace store ${source} into itself`);
  // ATTACH would create a missing file; a typo must not merge "nothing" silently.
  if (!existsSync(source)) throw new MergeRefusedError(`Cannot merge ${source}: no such file`);
  try {
    await con.run(`ATTACH ${sqlString(source)} AS ${SRC} (READ_ONLY)`);
  } catch (err) {
    throw new MergeRefusedError(
      `Cannot open ${source} to merge it: ${err instanceof Error ? err.message : String(err)}`,
      {
        cause: err,
      },
    );
  }
  try {
    await checkVersion(con, source);
    await checkCompatible(con, target, source);
    for (const m of MACROS) await con.run(m);
    await con.run("BEGIN TRANSACTION");
    try {
      const summary = await mergeAttached(con, source);
      await con.run("COMMIT");
      return summary;
    } catch (err) {
      await con.run("ROLLBACK").catch(() => {});
      throw new Error(`Merging ${source} failed: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
  } finally {
    await con.run("DROP TABLE IF EXISTS temp.merge_map").catch(() => {});
    await con.run(`DETACH ${SRC}`).catch(() => {});
  }
}

/** The source's schema version: this build's, or an older one its migration knows (merged with the migration's values). */
async function checkVersion(con: DuckDBConnection, source: string): Promise<void> {
  const tables = await rows(
    con,
    `SELECT table_name FROM duckdb_tables() WHERE database_name = '${SRC}' AND table_name = 'schema_version'`,
  );
  if (tables.length === 0)
    throw new MergeRefusedError(`${source} is not a trace store: it has no schema_version table`);
  const [row] = await rows(con, `SELECT max(version) AS v FROM ${SRC}.schema_version`);
  const v = Number(row?.v);
  if (v !== SCHEMA_VERSION && !canMigrate(v)) {
    throw new MergeRefusedError(
      `${source} has trace store schema version ${String(row?.v)}; this build reads ${SCHEMA_VERSION}`,
    );
  }
}

/** Refuses a source whose runs cannot be joined with the target's of the same id (see the header). */
async function checkCompatible(con: DuckDBConnection, target: string, source: string): Promise<void> {
  const shared = await rows(
    con,
    `SELECT t.run_id, t.plan_sha256 AS target_plan, s.plan_sha256 AS source_plan, t.shard AS target_shard,
       s.shard AS source_shard
     FROM runs t JOIN ${SRC}.runs s USING (run_id) ORDER BY t.run_id`,
  );
  for (const r of shared) {
    if (r.target_plan !== r.source_plan) {
      throw new MergeRefusedError(
        `Cannot merge ${source}: its run ${r.run_id} was made from another plan than the one in ${target} (plan sha256 ${String(r.source_plan).slice(0, 12)} vs ${String(r.target_plan).slice(0, 12)}: a different scenario file, --seeds or --policies)`,
      );
    }
    const counts = new Set(
      [r.target_shard, r.source_shard]
        .filter((x): x is string => typeof x === "string")
        .flatMap((x) => x.split(",").map((p) => p.trim().split("/")[1])),
    );
    if (counts.size > 1) {
      throw new MergeRefusedError(
        `Cannot merge ${source}: run ${r.run_id} is shard ${r.source_shard} there and ${r.target_shard} in ${target}; shards of one run must be slices of the same N (run every shard with the same --shard i/N)`,
      );
    }
  }
}

async function mergeAttached(con: DuckDBConnection, source: string): Promise<SourceMergeSummary> {
  const [counts] = await rows(
    con,
    `SELECT
       (SELECT count(*) FROM ${SRC}.runs s WHERE s.run_id NOT IN (SELECT run_id FROM runs)) AS runs_added,
       (SELECT count(*) FROM ${SRC}.runs s WHERE s.run_id IN (SELECT run_id FROM runs)) AS runs_merged`,
  );
  await con.run(`UPDATE runs AS t SET
      shard = merge_shards(t.shard, s.shard),
      started_at = least(t.started_at, s.started_at),
      finished_at = greatest(t.finished_at, s.finished_at),
      seeds = list_sort(list_distinct(list_concat(t.seeds, s.seeds))),
      status = merge_status(t.status, s.status)
    FROM ${SRC}.runs s WHERE t.run_id = s.run_id`);
  await con.run(`INSERT INTO runs SELECT * FROM ${SRC}.runs WHERE run_id NOT IN (SELECT run_id FROM runs)`);

  // Which source episodes to copy, with their new ids (numbered from the target's largest
  // id before any deletion, so a new id never reuses one deleted in this transaction), and
  // which target episode each one replaces.
  await con.run(`CREATE OR REPLACE TEMP TABLE merge_map AS
    SELECT s.episode_id AS old_id,
      (SELECT coalesce(max(episode_id), 0) FROM episodes) + row_number() OVER (ORDER BY s.episode_id) AS new_id,
      t.episode_id AS replaces
    FROM ${SRC}.episodes s
    LEFT JOIN episodes t ON t.run_id = s.run_id AND t.episode_key = s.episode_key
    WHERE t.episode_id IS NULL OR (t.status <> 'completed' AND s.status = 'completed')`);
  for (const table of ["steps", "events", "episodes"]) {
    await con.run(`DELETE FROM ${table} WHERE episode_id IN (SELECT replaces FROM temp.merge_map)`);
  }
  await con.run(`INSERT INTO episodes
    SELECT m.new_id, s.* EXCLUDE (episode_id) FROM ${SRC}.episodes s JOIN temp.merge_map m ON m.old_id = s.episode_id`);
  // By column name: a source of an older schema version lacks the columns added since, and
  // its rows get what the migration would have given them.
  for (const table of ["steps", "events"] as const) {
    const cols = table === "steps" ? STEP_COLUMN_NAMES : await columnsOf(con, null, "events");
    const have = new Set(await columnsOf(con, SRC, table));
    const values = cols.filter((c) => c !== "episode_id").map((c) => (have.has(c) ? `s.${c}` : addedValue(table, c)));
    await con.run(`INSERT INTO ${table} (episode_id, ${cols.filter((c) => c !== "episode_id").join(", ")})
      SELECT m.new_id, ${values.join(", ")} FROM ${SRC}.${table} s JOIN temp.merge_map m ON m.old_id = s.episode_id`);
  }

  const [moved] = await rows(
    con,
    `SELECT count(*) FILTER (replaces IS NULL) AS added, count(replaces) AS replaced,
       (SELECT count(*) FROM ${SRC}.episodes) - count(*) AS skipped
     FROM temp.merge_map`,
  );
  return {
    source,
    runsAdded: Number(counts?.runs_added),
    runsMerged: Number(counts?.runs_merged),
    episodesAdded: Number(moved?.added),
    episodesReplaced: Number(moved?.replaced),
    episodesSkipped: Number(moved?.skipped),
  };
}

/** Column names of `table` in database `db` (null: the target), in table order. */
async function columnsOf(con: DuckDBConnection, db: string | null, table: string): Promise<string[]> {
  const r = await rows(
    con,
    `SELECT column_name FROM duckdb_columns()
     WHERE database_name = ${db === null ? "current_database()" : sqlString(db)} AND schema_name = 'main'
       AND table_name = ${sqlString(table)} ORDER BY column_index`,
  );
  return r.map((x) => x.column_name as string);
}

function addedValue(table: string, column: string): string {
  const v = ADDED_COLUMN_VALUES[table]?.[column];
  if (v === undefined)
    throw new Error(`The merge source has no ${table}.${column}, and no migration says what it holds`);
  return v;
}

async function rows(con: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  return (await con.runAndReadAll(sql)).getRowObjectsJS();
}
