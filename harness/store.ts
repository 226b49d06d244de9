/**
 * The DuckDB trace store (DESIGN.md, "Traces and metrics"): one embedded file holding runs,
 * episodes, steps and events, with the metric views of reports/views.ts on top.
 *
 * Writes are atomic per episode and batched per transaction: `writeEpisode` stages an
 * episode (its steps, its events, then its `episodes` row) in memory, and a commit appends
 * whole staged episodes in ONE transaction, the `episodes` row of each last. A batch is
 * committed when it holds `batchRows` step rows, `maxDelayMs` after its first episode, or
 * on `flush`/`finishRun`/`close`. One transaction per episode would be simpler, but each
 * commit has a fixed cost of a few ms (appender flush, WAL write): with 200-step episodes
 * that caps the store near 25k rows/s, against about 320k rows/s batched (1,800 episodes
 * of 200 steps and 20 events in about 1.1 s) on the 2-core development machine
 * (bench/store.ts). So a kill -9 loses the batch (at most `batchRows` rows, at most
 * `maxDelayMs` old) besides the episodes still running, and never leaves a partial episode
 * visible; a resumed run re-runs them.
 *
 * Step rows do not wait for the commit in JavaScript: every {@link DRAIN_ROWS} staged rows
 * go into the batch's open transaction (the appender's buffer, then the table's
 * uncommitted rows). Staging and appender buffers then stay a few MB and warm in cache
 * instead of growing to the whole batch, which doubles the speed of everything but
 * DuckDB's own insert (bench/store.ts). The batch transaction lives on a connection of its
 * own, so queries never run inside it.
 *
 * The store validates nothing it writes: traces come from the loop and are trusted.
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type DuckDBAppender, type DuckDBConnection, DuckDBInstance, type DuckDBValue } from "@duckdb/node-api";
import { type CellMetricsRow, VIEW_NAMES, viewStatements } from "../reports/views.ts";
import { HarnessError } from "./core/errors.ts";
import { type EpisodeStatus, missingShards, type RunContext, type RunRow, type RunStatus } from "./core/runs.ts";
import { storeFailure } from "./store-errors.ts";
import { mergeSource, type SourceMergeSummary } from "./store-merge.ts";
import { canMigrate, type Migration, migrateSchema } from "./store-migrate.ts";
import { DATA_TABLES, lookupDml, SCHEMA_VERSION, sqlString, TABLE_DDL } from "./store-schema.ts";
import { StepStaging } from "./store-staging.ts";
import type { EpisodeTrace } from "./trace.ts";

export type { EpisodeStatus, RunContext, RunRow, RunStatus } from "./core/runs.ts";

/** One episode's labels and outcome; `key` is unique within a run. */
export interface EpisodeMeta {
  /** `fault|frequency|policy|seed` (plan.ts `episodeKey`): what resume and merge match on. */
  readonly key: string;
  /** Labels of the matrix axes (scenarios/schema.ts). */
  readonly fault: string;
  readonly frequency: string;
  readonly policy: string;
  /** The registry name of the policy (several labels may share one). */
  readonly policyName: string;
  readonly seed: number;
  readonly backend: string;
  readonly status: EpisodeStatus;
  /** Why the episode failed, else null. */
  readonly error: string | null;
  /** Steps the episode ran. */
  readonly steps: number;
  readonly stepSeconds: number;
  readonly confirmWindowS: number;
  readonly sloLatencyMs: number;
  readonly sloErrorRate: number;
  /** Wall-clock time the episode took, ms. */
  readonly wallMs: number;
  /** The fault specs of the cell, stored as JSON. */
  readonly faultSpecs: unknown;
}

export const DEFAULT_BATCH_ROWS = 131072;

/** Staged step rows handed to the open batch transaction at once: eight 2,048-row chunks. */
export const DRAIN_ROWS = 16384;

export interface StoreOptions {
  /**
   * Staged step rows that trigger a commit. The default is DuckDB's row group size rounded
   * up (about 650 episodes of 200 steps): a transaction that appends a whole row group lets
   * DuckDB write it to the file compressed instead of through the WAL, about 25% faster
   * (bench/store.ts). Only a producer faster than `batchRows` per `maxDelayMs` reaches it.
   * @default 131072 ({@link DEFAULT_BATCH_ROWS})
   */
  readonly batchRows?: number;
  /**
   * The longest a staged episode waits for its commit, ms: bounds what a kill -9 loses when
   * episodes are slow (a cluster run).
   * @default 1000
   */
  readonly maxDelayMs?: number;
  /**
   * A file of an older schema version that harness/store-migrate.ts knows: true migrates it
   * in place on open (commands that write); false refuses it with an error naming the
   * command that migrates it (read-only commands never change a file).
   * @default true
   */
  readonly migrate?: boolean;
  /**
   * Told about a migration done on open.
   * @default one line on stderr
   */
  readonly onMigrated?: (m: Migration & { readonly file: string }) => void;
}

export interface MergeSummary {
  readonly target: string;
  readonly sources: readonly SourceMergeSummary[];
  readonly episodesAdded: number;
  readonly episodesSkipped: number;
  /** Runs in the target that still lack shards of their plan: their figures cover part of the matrix. */
  readonly partialRuns: readonly PartialRun[];
}

export interface PartialRun {
  readonly runId: string;
  /** The shards present, e.g. "1/4,3/4". */
  readonly shards: string;
  readonly missing: readonly string[];
}

export type { SourceMergeSummary } from "./store-merge.ts";

/** An event row as staged: copied out of the trace so later mutation of it cannot matter. */
interface StagedEvent {
  episodeId: number;
  seq: number;
  time: number;
  kind: string;
  action: number;
  podId: number;
  podName: string;
  podUid: string;
  faultId: number;
  targetRank: number;
  fault: string | null;
  detail: string;
}

interface StagedEpisode {
  episodeId: number;
  runId: string;
  meta: EpisodeMeta;
  faultSpecsJson: string;
}

const RUN_COLUMNS = `r.run_id AS "runId", r.scenario_name AS "scenarioName", r.scenario_sha256 AS "scenarioSha256",
  r.scenario_text AS "scenarioText", r.plan_sha256 AS "planSha256", r.shard, r.backend, r.git_sha AS "gitSha",
  r.node_version AS "nodeVersion", r.host, r.cpus, r.argv::VARCHAR AS argv,
  r.model_checksums::VARCHAR AS "modelChecksums", r.seeds, r.started_at AS "startedAt",
  r.finished_at AS "finishedAt", r.status`;

const RUNS_WITH_COUNTS = `SELECT ${RUN_COLUMNS},
    count(e.episode_id)::INTEGER AS episodes,
    (count(e.episode_id) FILTER (e.status = 'completed'))::INTEGER AS "completedEpisodes"
  FROM runs r LEFT JOIN episodes e USING (run_id)`;

export class TraceStore {
  private readonly steps: StepStaging;
  private events: StagedEvent[] = [];
  private episodes: StagedEpisode[] = [];
  /** Step rows of the current batch: handed to its transaction or still staged. */
  private batchStepRows = 0;
  /** Whether the batch transaction is open on `writer`. */
  private inBatch = false;
  /** Drains and commits run one after another on the writer connection. */
  private queue: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  /** A failed background commit, reported by the next call. */
  private backgroundError: unknown = null;
  private closed = false;
  private readonly batchRows: number;
  private readonly maxDelayMs: number;
  /** Staging for {@link appendToEpisode}'s small batches, apart from the matrix runner's. */
  private streamStaging: StepStaging | null = null;

  private constructor(
    /** Absolute path of the database file. */
    readonly path: string,
    private readonly instance: DuckDBInstance,
    /** Queries, run bookkeeping, merge and export. */
    private readonly con: DuckDBConnection,
    /** The batch transaction and the appenders, which append within it. */
    private readonly writer: DuckDBConnection,
    private readonly appenders: { steps: DuckDBAppender; events: DuckDBAppender; episodes: DuckDBAppender },
    private nextEpisodeId: number,
    options: StoreOptions,
  ) {
    this.batchRows = options.batchRows ?? DEFAULT_BATCH_ROWS;
    this.maxDelayMs = options.maxDelayMs ?? 1000;
    this.steps = new StepStaging(Math.min(this.batchRows, DRAIN_ROWS) + 1024);
  }

  /**
   * Opens the trace store at `path`, creating the file, its parent directory and the schema
   * when missing, and (re)creating the metric views. A file of an older schema version is
   * migrated in place (unless `options.migrate` is false: then refused); a DuckDB file that
   * is not a trace store, or has a version no migration reaches, is refused.
   */
  static async open(path: string, options: StoreOptions = {}): Promise<TraceStore> {
    const file = resolve(path);
    mkdirSync(dirname(file), { recursive: true });
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(file);
    } catch (err) {
      const context = `Cannot open trace store ${file}`;
      throw storeFailure(err, file, context) ?? new Error(`${context}: ${message(err)}`, { cause: err });
    }
    let con: DuckDBConnection | undefined;
    let writer: DuckDBConnection | undefined;
    try {
      con = await instance.connect();
      await prepareSchema(con, file, options);
      const next = await scalar(con, "SELECT coalesce(max(episode_id), 0) + 1 FROM episodes");
      writer = await instance.connect();
      const appenders = {
        steps: await writer.createAppender("steps"),
        events: await writer.createAppender("events"),
        episodes: await writer.createAppender("episodes"),
      };
      return new TraceStore(file, instance, con, writer, appenders, Number(next), options);
    } catch (err) {
      writer?.closeSync();
      con?.closeSync();
      instance.closeSync();
      throw storeFailure(err, file, `Trace store ${file}`) ?? err;
    }
  }

  /** Writes the run row; fails if `runId` exists (resume it with {@link markRunning} instead). */
  async beginRun(ctx: RunContext): Promise<void> {
    this.check();
    const exists = await scalar(this.con, "SELECT count(*) FROM runs WHERE run_id = ?", [ctx.runId]);
    if (Number(exists) > 0) throw new Error(`Run ${ctx.runId} already exists in ${this.path}`);
    await this.con.run(
      `INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::JSON, ?::JSON, ?::INTEGER[],
        epoch_ms(?::BIGINT), NULL, 'running')`,
      [
        ctx.runId,
        ctx.scenarioName,
        ctx.scenarioSha256,
        ctx.scenarioText,
        ctx.planSha256,
        ctx.shard,
        ctx.backend,
        ctx.gitSha,
        ctx.nodeVersion,
        ctx.host,
        ctx.cpus,
        JSON.stringify(ctx.argv),
        JSON.stringify(ctx.modelChecksums),
        JSON.stringify(ctx.seeds),
        ctx.startedAt.getTime(),
      ],
    );
  }

  /** The latest run of a plan (and shard), for `--resume`; null when there is none. */
  async findRun(planSha256: string, shard: string | null): Promise<RunRow | null> {
    this.check();
    const rows = await this.readRuns(
      `${RUNS_WITH_COUNTS} WHERE r.plan_sha256 = ? AND coalesce(r.shard, '') = ?
       GROUP BY ALL ORDER BY r.started_at DESC LIMIT 1`,
      [planSha256, shard ?? ""],
    );
    return rows[0] ?? null;
  }

  /** Keys of the run's completed episodes (what a resumed run skips). */
  async storedEpisodeKeys(runId: string): Promise<Set<string>> {
    await this.flush();
    const reader = await this.con.runAndReadAll(
      "SELECT episode_key FROM episodes WHERE run_id = ? AND status = 'completed'",
      [runId],
    );
    return new Set(reader.getRowObjectsJS().map((r) => r.episode_key as string));
  }

  /**
   * Reopens a run for `--resume`: marks it running again and drops its aborted and failed
   * episodes (they run again, and an episode key must stay unique within a run). Completed
   * episodes, and so {@link storedEpisodeKeys}, are untouched.
   */
  async markRunning(runId: string): Promise<void> {
    await this.flush();
    const exists = await scalar(this.con, "SELECT count(*) FROM runs WHERE run_id = ?", [runId]);
    if (Number(exists) === 0) throw new Error(`No run ${runId} in ${this.path}`);
    await this.transaction(async () => {
      const stale = `SELECT episode_id FROM episodes WHERE run_id = $1 AND status <> 'completed'`;
      await this.con.run(`DELETE FROM steps WHERE episode_id IN (${stale})`, [runId]);
      await this.con.run(`DELETE FROM events WHERE episode_id IN (${stale})`, [runId]);
      await this.con.run(`DELETE FROM episodes WHERE run_id = $1 AND status <> 'completed'`, [runId]);
      await this.con.run(`UPDATE runs SET status = 'running', finished_at = NULL WHERE run_id = $1`, [runId]);
    });
  }

  /**
   * Stages one episode and returns its `episode_id`; it becomes visible, all of it at once,
   * with the commit of its batch. The copy into memory comes first, so a trace that throws
   * half-way (a bad event) is dropped whole and the store stays usable.
   */
  async writeEpisode(runId: string, meta: EpisodeMeta, trace: EpisodeTrace): Promise<number> {
    this.check();
    const episodeId = this.nextEpisodeId;
    const rows = this.steps.rows;
    const events = this.events.length;
    try {
      this.steps.add(episodeId, trace);
      trace.events.forEach((e, seq) => {
        this.events.push({
          episodeId,
          seq,
          time: e.time,
          kind: e.kind,
          action: e.action,
          podId: e.podId,
          podName: e.podName,
          podUid: e.podUid,
          faultId: e.faultId,
          targetRank: e.targetRank ?? -1,
          fault: e.fault ?? null,
          detail: e.detail,
        });
      });
      const faultSpecsJson = JSON.stringify(meta.faultSpecs ?? null);
      // Last: an episode is staged once its row is, never before.
      this.episodes.push({ episodeId, runId, meta, faultSpecsJson });
    } catch (err) {
      this.steps.truncate(rows);
      this.events.length = events;
      throw err;
    }
    this.nextEpisodeId++;
    this.batchStepRows += trace.length;
    if (this.batchStepRows >= this.batchRows) await this.flush();
    else {
      if (this.steps.rows >= DRAIN_ROWS) await this.enqueue(() => this.drain());
      this.timer ??= setTimeout(() => this.flushInBackground(), this.maxDelayMs).unref();
    }
    return episodeId;
  }

  /** Commits every staged episode. */
  flush(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    // Checked when the commit's turn comes, not when it is queued: a background commit still
    // running now may yet fail, and its episodes are then lost to whoever flushes next.
    return this.enqueue(() => {
      const pending = this.backgroundError;
      if (pending !== null) {
        this.backgroundError = null;
        return Promise.reject(pending);
      }
      return this.commit();
    });
  }

  /** Commits what is staged, then records how the run ended. */
  async finishRun(runId: string, status: Exclude<RunStatus, "running">, at: Date = new Date()): Promise<void> {
    await this.flush();
    await this.con.run("UPDATE runs SET status = ?, finished_at = epoch_ms(?::BIGINT) WHERE run_id = ?", [
      status,
      at.getTime(),
      runId,
    ]);
  }

  /** Every run, oldest first, with its episode counts. */
  async listRuns(): Promise<RunRow[]> {
    await this.flush();
    return this.readRuns(`${RUNS_WITH_COUNTS} GROUP BY ALL ORDER BY r.started_at, r.run_id`);
  }

  /** `cell_metrics` rows of one run (default: the latest started), ordered by cell. */
  async cellMetrics(runId?: string): Promise<CellMetricsRow[]> {
    await this.flush();
    const id = runId ?? (await scalar(this.con, "SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1"));
    if (id === null) return [];
    return (await this.query(
      "SELECT * FROM cell_metrics WHERE run_id = ? ORDER BY fault, frequency, policy",
      [id as string],
      { camelCase: true },
    )) as unknown as CellMetricsRow[];
  }

  /**
   * Runs any SQL (after committing what is staged) and returns its rows as JS values,
   * BIGINT counts as numbers. For reports and tests; `camelCase` renames snake_case columns.
   */
  async query(
    sql: string,
    params: DuckDBValue[] = [],
    opts: { camelCase?: boolean } = {},
  ): Promise<Record<string, unknown>[]> {
    await this.flush();
    const reader = await this.con.runAndReadAll(sql, params);
    return reader.getRowObjectsJS().map((row) => plainRow(row, opts.camelCase ?? false));
  }

  /** Merges another trace store file into this one (see {@link mergeStores}). */
  async mergeFrom(source: string): Promise<SourceMergeSummary> {
    await this.flush();
    const summary = await mergeSource(this.con, this.path, resolve(source));
    this.nextEpisodeId = Number(await scalar(this.con, "SELECT coalesce(max(episode_id), 0) + 1 FROM episodes"));
    return summary;
  }

  /** Writes every table and metric view to `dir/<name>.parquet`; returns the paths. */
  async exportParquet(dir: string): Promise<string[]> {
    await this.flush();
    const out = resolve(dir);
    mkdirSync(out, { recursive: true });
    const files: string[] = [];
    for (const name of [...DATA_TABLES, ...VIEW_NAMES]) {
      const file = resolve(out, `${name}.parquet`);
      await this.con.run(`COPY (SELECT * FROM ${name}) TO ${sqlString(file)} (FORMAT parquet)`);
      files.push(file);
    }
    return files;
  }

  /** Commits what is staged and closes the file. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      for (const a of Object.values(this.appenders)) a.closeSync();
      this.writer.closeSync();
      this.con.closeSync();
      this.instance.closeSync();
    }
  }

  // -------------------------------------------------------------------------
  // Long-running mode (harness/controller/): one episode whose rows stream in.

  /**
   * Marks an existing run running again without touching its episodes (a restarted
   * controller carries on in the same run; compare {@link markRunning}, which drops the
   * unfinished episodes of a matrix run so they can run again). False when there is no such run.
   */
  async reopenRun(runId: string): Promise<boolean> {
    await this.flush();
    const exists = await scalar(this.con, "SELECT count(*) FROM runs WHERE run_id = ?", [runId]);
    if (Number(exists) === 0) return false;
    await this.con.run(`UPDATE runs SET status = 'running', finished_at = NULL WHERE run_id = ?`, [runId]);
    return true;
  }

  /**
   * Starts an episode whose steps arrive in batches ({@link appendToEpisode}). Its
   * `episodes` row is committed now, as `aborted` with the error saying it is still open:
   * that is what a process killed before {@link closeEpisode} leaves, and a reader always
   * sees the row of any step that was committed. `meta.status`, `error`, `steps` and
   * `wallMs` are ignored here.
   */
  async openEpisode(runId: string, meta: EpisodeMeta): Promise<number> {
    this.check();
    await this.flush();
    const episodeId = this.nextEpisodeId++;
    await this.enqueue(async () => {
      await this.beginBatch();
      try {
        appendEpisodeRow(this.appenders.episodes, {
          episodeId,
          runId,
          meta: { ...meta, status: "aborted", error: OPEN_EPISODE, steps: 0, wallMs: 0 },
          faultSpecsJson: JSON.stringify(meta.faultSpecs ?? null),
        });
        this.appenders.episodes.flushSync();
        this.inBatch = false;
        await this.writer.run("COMMIT");
      } catch (err) {
        throw await this.abortBatch(err);
      }
    });
    return episodeId;
  }

  /**
   * Commits one batch of an open episode in one transaction: its step rows (`trace`'s rows
   * `[0, length)`, numbered by the loop), its events (numbered from `firstEventSeq`), and
   * the episode row's `steps` and `wall_ms` as of this batch. A crash loses at most the
   * batch being written; a batch that fails is rolled back whole and the error thrown.
   */
  async appendToEpisode(
    episodeId: number,
    trace: EpisodeTrace,
    at: { readonly firstEventSeq: number; readonly steps: number; readonly wallMs: number },
  ): Promise<void> {
    this.check();
    await this.flush();
    await this.enqueue(async () => {
      this.streamStaging ??= new StepStaging(Math.max(trace.length, 64));
      const staging = this.streamStaging;
      try {
        await this.beginBatch();
        staging.add(episodeId, trace);
        staging.appendTo(this.appenders.steps);
        this.appenders.steps.flushSync();
        for (let i = 0; i < trace.events.length; i++) {
          appendEventRow(this.appenders.events, episodeId, at.firstEventSeq + i, trace.events[i]!);
        }
        this.appenders.events.flushSync();
        await this.writer.run("UPDATE episodes SET steps = ?, wall_ms = ? WHERE episode_id = ?", [
          at.steps,
          at.wallMs,
          episodeId,
        ]);
        this.inBatch = false;
        await this.writer.run("COMMIT");
      } catch (err) {
        staging.truncate(0);
        throw await this.abortBatch(err);
      }
    });
  }

  /** Ends an open episode: its final status, error, step count and wall time. */
  async closeEpisode(
    episodeId: number,
    end: {
      readonly status: EpisodeStatus;
      readonly error: string | null;
      readonly steps: number;
      readonly wallMs: number;
    },
  ): Promise<void> {
    this.check();
    await this.flush();
    await this.con.run("UPDATE episodes SET status = ?, error = ?, steps = ?, wall_ms = ? WHERE episode_id = ?", [
      end.status,
      end.error,
      end.steps,
      end.wallMs,
      episodeId,
    ]);
  }

  // -------------------------------------------------------------------------

  private check(): void {
    if (this.closed) throw new Error(`Trace store ${this.path} is closed`);
  }

  private flushInBackground(): void {
    this.timer = null;
    // The failure is recorded inside the queue, before any later flush takes its turn.
    void this.enqueue(() =>
      this.commit().catch((err: unknown) => {
        this.backgroundError ??= err;
      }),
    );
  }

  /** Runs `task` after every drain and commit before it; the queue itself never rejects. */
  private enqueue(task: () => Promise<void>): Promise<void> {
    const done = this.queue.then(task);
    // A failed drain or commit is reported to its caller only.
    this.queue = done.catch(() => {});
    return done;
  }

  private async beginBatch(): Promise<void> {
    if (this.inBatch) return;
    await this.writer.run("BEGIN TRANSACTION");
    this.inBatch = true;
  }

  /** Moves the staged step rows into the open batch transaction (uncommitted, invisible). */
  private async drain(): Promise<void> {
    if (this.steps.rows === 0) return;
    try {
      await this.beginBatch();
      this.steps.appendTo(this.appenders.steps);
      this.appenders.steps.flushSync();
    } catch (err) {
      // Every staged episode has step rows in the failed transaction (or in no table at
      // all): the batch goes whole.
      this.episodes = [];
      this.events = [];
      this.steps.truncate(0);
      this.batchStepRows = 0;
      throw await this.abortBatch(err);
    }
  }

  /**
   * Appends every staged episode in the batch transaction and commits it: steps, then
   * events, then the episodes rows. On any error the transaction rolls back and the whole
   * batch is dropped: no row of it is visible, and the error goes to the caller.
   */
  private async commit(): Promise<void> {
    if (this.episodes.length === 0) return;
    try {
      await this.beginBatch();
      // Synchronous from here to the COMMIT: episodes staged meanwhile go to the next batch.
      const episodes = this.episodes;
      const events = this.events;
      this.episodes = [];
      this.events = [];
      this.batchStepRows = 0;
      const { steps: stepsAppender, events: eventsAppender, episodes: episodesAppender } = this.appenders;
      this.steps.appendTo(stepsAppender);
      stepsAppender.flushSync();
      for (const e of events) appendEventRow(eventsAppender, e.episodeId, e.seq, e);
      eventsAppender.flushSync();
      for (const e of episodes) appendEpisodeRow(episodesAppender, e);
      episodesAppender.flushSync();
      this.inBatch = false;
      await this.writer.run("COMMIT");
    } catch (err) {
      // The staging buffers were emptied by appendTo; what they hold now is the next batch.
      throw await this.abortBatch(err);
    }
  }

  /** Rolls the batch transaction back and returns the error to throw. */
  private async abortBatch(err: unknown): Promise<Error> {
    for (const a of Object.values(this.appenders)) a.clear();
    this.inBatch = false;
    // After a failed COMMIT DuckDB has rolled back already; the ROLLBACK then fails, harmlessly.
    await this.writer.run("ROLLBACK").catch(() => {});
    const context = `Trace store ${this.path}: writing a batch of episodes failed`;
    return storeFailure(err, this.path, context) ?? new Error(`${context}: ${message(err)}`, { cause: err });
  }

  private async transaction(body: () => Promise<void>): Promise<void> {
    await this.con.run("BEGIN TRANSACTION");
    try {
      await body();
      await this.con.run("COMMIT");
    } catch (err) {
      await this.con.run("ROLLBACK").catch(() => {});
      throw err;
    }
  }

  private async readRuns(sql: string, params: DuckDBValue[] = []): Promise<RunRow[]> {
    const reader = await this.con.runAndReadAll(sql, params);
    return reader.getRowObjectsJS().map((r) => ({
      ...(r as unknown as RunRow),
      argv: JSON.parse(r.argv as string),
      modelChecksums: JSON.parse(r.modelChecksums as string),
    }));
  }
}

/**
 * Merges trace store files into `target` (created if missing, migrated if older); see
 * store-merge.ts for the rules. Sources are read, never changed: one of an older schema
 * version is merged with the defaults its migration would give.
 */
export async function mergeStores(
  target: string,
  sources: readonly string[],
  options: Pick<StoreOptions, "onMigrated"> = {},
): Promise<MergeSummary> {
  const store = await TraceStore.open(target, options);
  try {
    const summaries: SourceMergeSummary[] = [];
    for (const source of sources) summaries.push(await store.mergeFrom(source));
    const partialRuns = (await store.listRuns())
      .filter((r) => r.shard !== null)
      .map((r) => ({ runId: r.runId, shards: r.shard as string, missing: missingShards(r.shard) }));
    return {
      target: store.path,
      sources: summaries,
      episodesAdded: summaries.reduce((n, s) => n + s.episodesAdded + s.episodesReplaced, 0),
      episodesSkipped: summaries.reduce((n, s) => n + s.episodesSkipped, 0),
      partialRuns,
    };
  } finally {
    await store.close();
  }
}

/** Writes every table and metric view of the store at `dbPath` to `dir/<name>.parquet`. */
export async function exportParquet(dbPath: string, dir: string): Promise<string[]> {
  const store = await TraceStore.open(dbPath, { migrate: false });
  try {
    return await store.exportParquet(dir);
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------------------

/**
 * Creates the schema in an empty file, or checks the version of an existing store and
 * migrates an older one (store-migrate.ts); then the lookup rows and the views.
 */
async function prepareSchema(con: DuckDBConnection, file: string, options: StoreOptions): Promise<void> {
  const reader = await con.runAndReadAll(
    "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'",
  );
  const tables = reader.getRowObjectsJS().map((r) => r.table_name as string);
  if (tables.length === 0) {
    await con.run("BEGIN TRANSACTION");
    for (const ddl of TABLE_DDL) await con.run(ddl);
    await con.run("INSERT INTO schema_version VALUES (?, current_timestamp::TIMESTAMP)", [SCHEMA_VERSION]);
    await con.run("COMMIT");
  } else if (!tables.includes("schema_version")) {
    throw new HarnessError(
      "store_unreadable",
      `${file} is not a trace store: it has tables (${tables.sort().join(", ")}) but no schema_version table`,
    );
  } else {
    const version = Number(await scalar(con, "SELECT max(version) FROM schema_version"));
    if (version !== SCHEMA_VERSION && !canMigrate(version)) {
      throw new HarnessError(
        "store_unreadable",
        `${file} has trace store schema version ${String(version)}; this build reads version ${SCHEMA_VERSION}${version > SCHEMA_VERSION ? " (the file was written by a newer build)" : ""}`,
      );
    }
    if (version !== SCHEMA_VERSION && options.migrate === false) {
      throw new HarnessError(
        "store_unreadable",
        `${file} has trace store schema version ${version}; this build reads version ${SCHEMA_VERSION}. A read-only command does not migrate it: run \`harness migrate --db ${file}\` (or any command that writes to it), then retry`,
      );
    }
    if (version !== SCHEMA_VERSION) {
      const m = await migrateSchema(con, version);
      (options.onMigrated ?? logMigration)({ ...m, file });
    }
  }
  for (const dml of lookupDml()) await con.run(dml);
  for (const view of viewStatements()) await con.run(view);
}

function logMigration(m: Migration & { readonly file: string }): void {
  process.stderr.write(
    `harness: migrated trace store ${m.file} from schema version ${m.from} to ${m.to} in ${Math.round(m.ms)} ms\n`,
  );
}

/** What an open episode's row says until it is closed (and what a killed controller leaves). */
export const OPEN_EPISODE = "open: still running, or its process stopped without closing it";

function appendEventRow(
  a: DuckDBAppender,
  episodeId: number,
  seq: number,
  e: {
    time: number;
    kind: string;
    action: number;
    podId: number;
    podName: string;
    podUid: string;
    faultId: number;
    detail: string;
    targetRank?: number;
    fault?: string | null;
  },
): void {
  a.appendInteger(episodeId);
  a.appendInteger(seq);
  a.appendDouble(e.time);
  a.appendVarchar(e.kind);
  a.appendSmallInt(e.action);
  a.appendInteger(e.podId);
  a.appendInteger(e.faultId);
  a.appendVarchar(e.detail);
  a.appendInteger(e.targetRank ?? -1);
  if (e.fault === null || e.fault === undefined) a.appendNull();
  else a.appendVarchar(e.fault);
  a.appendVarchar(e.podName);
  a.appendVarchar(e.podUid);
  a.endRow();
}

function appendEpisodeRow(a: DuckDBAppender, { episodeId, runId, meta: m, faultSpecsJson }: StagedEpisode): void {
  a.appendInteger(episodeId);
  a.appendVarchar(runId);
  a.appendVarchar(m.key);
  a.appendVarchar(m.fault);
  a.appendVarchar(m.frequency);
  a.appendVarchar(m.policy);
  a.appendVarchar(m.policyName);
  a.appendInteger(m.seed);
  a.appendVarchar(m.backend);
  a.appendVarchar(m.status);
  if (m.error === null) a.appendNull();
  else a.appendVarchar(m.error);
  a.appendInteger(m.steps);
  a.appendDouble(m.stepSeconds);
  a.appendDouble(m.confirmWindowS);
  a.appendDouble(m.sloLatencyMs);
  a.appendDouble(m.sloErrorRate);
  a.appendDouble(m.wallMs);
  a.appendVarchar(faultSpecsJson);
  a.endRow();
}

async function scalar(con: DuckDBConnection, sql: string, params: DuckDBValue[] = []): Promise<unknown> {
  const reader = await con.runAndReadAll(sql, params);
  return reader.getRows()[0]?.[0] ?? null;
}

function plainRow(row: Record<string, unknown>, camelCase: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    out[camelCase ? k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()) : k] =
      typeof v === "bigint" ? Number(v) : v;
  }
  return out;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
