/**
 * Training tables of the trace store: one `training_runs` row per PPO run (its context and
 * options, written before any update) and one `training_updates` row per update (the
 * training curve: returns, SLO share, recovery, action mix, losses, KL, clip fraction), so
 * the reports can chart training curves from the same DuckDB file as the evaluation traces.
 *
 * Own DDL, every statement `CREATE TABLE IF NOT EXISTS`: a store written before these tables
 * existed gains them when training first writes to it, and the trace store's schema
 * version is unchanged (harness/store-schema.ts). The file is opened through `TraceStore`
 * first, so it is a valid trace store (schema_version, runs, ...) whoever created it.
 *
 * A resumed run keeps its run id and rewrites the updates it repeats (`INSERT OR REPLACE`
 * on (run_id, update)): the rows are the same numbers the interrupted run wrote.
 */
import { availableParallelism, hostname } from "node:os";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import type { UpdateMetrics } from "../policies/ppo/train.ts";
import { ACTION_NAMES } from "./core/contract.ts";
import { TraceStore } from "./store.ts";

export const TRAINING_RUN_STATUSES = ["running", "completed", "interrupted", "failed"] as const;
export type TrainingRunStatus = (typeof TRAINING_RUN_STATUSES)[number];

const actionColumns = (prefix: string) => ACTION_NAMES.map((n) => `${prefix}_${n.replaceAll("-", "_")}`);

/** Proposed-action share columns (`action_noop`, ...) and executed ones (`executed_noop`, ...). */
export const ACTION_SHARE_COLUMNS = actionColumns("action");
export const EXECUTED_SHARE_COLUMNS = actionColumns("executed");

export const TRAINING_DDL: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS training_runs (
    run_id VARCHAR PRIMARY KEY,
    algorithm VARCHAR NOT NULL,
    seed INTEGER NOT NULL,
    total_timesteps BIGINT NOT NULL,
    engine VARCHAR NOT NULL,
    tf_backend VARCHAR,
    options JSON NOT NULL,
    git_sha VARCHAR,
    node_version VARCHAR NOT NULL,
    host VARCHAR NOT NULL,
    cpus INTEGER NOT NULL,
    argv JSON NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status VARCHAR NOT NULL,
    model_path VARCHAR,
    model_sha256 VARCHAR
  )`,
  `CREATE TABLE IF NOT EXISTS training_updates (
    run_id VARCHAR NOT NULL,
    update INTEGER NOT NULL,
    global_step BIGINT NOT NULL,
    wall_time_s DOUBLE NOT NULL,
    steps_per_s DOUBLE NOT NULL,
    learning_rate DOUBLE NOT NULL,
    episodes INTEGER NOT NULL,
    ep_reward_mean DOUBLE,
    ep_reward_min DOUBLE,
    ep_reward_max DOUBLE,
    ep_length_mean DOUBLE,
    slo_held_share DOUBLE NOT NULL,
    recovery_time_mean_s DOUBLE,
    recoveries INTEGER NOT NULL,
    replicas_mean DOUBLE NOT NULL,
    ${ACTION_SHARE_COLUMNS.map((c) => `${c} DOUBLE NOT NULL`).join(",\n    ")},
    ${EXECUTED_SHARE_COLUMNS.map((c) => `${c} DOUBLE NOT NULL`).join(",\n    ")},
    refused_share DOUBLE NOT NULL,
    policy_loss DOUBLE NOT NULL,
    value_loss DOUBLE NOT NULL,
    entropy DOUBLE NOT NULL,
    approx_kl DOUBLE NOT NULL,
    clip_frac DOUBLE NOT NULL,
    explained_variance DOUBLE,
    epochs INTEGER NOT NULL,
    PRIMARY KEY (run_id, update)
  )`,
];

/** A training run's context, written before its first update. */
export interface TrainingRunContext {
  readonly runId: string;
  readonly algorithm: string;
  readonly seed: number;
  readonly totalTimesteps: number;
  readonly engine: string;
  readonly tfBackend: string | null;
  readonly options: unknown;
  /** HEAD's sha, `-dirty` when tracked files differed from it (harness/provenance.ts); null outside git. */
  readonly gitSha: string | null;
  readonly argv: readonly string[];
  readonly startedAt: Date;
}

/** One row of `training_updates`: the PPO trainer's per-update metrics. */
export type TrainingUpdateRow = UpdateMetrics;

const finiteOrNull = (x: number | null) => (x === null || !Number.isFinite(x) ? null : x);

export class TrainingStore {
  private constructor(
    readonly path: string,
    private readonly instance: DuckDBInstance,
    private readonly con: DuckDBConnection,
  ) {}

  /** Opens (creating when missing) the trace store at `path` and its training tables. */
  static async open(path: string): Promise<TrainingStore> {
    const store = await TraceStore.open(path);
    const file = store.path;
    await store.close();
    const instance = await DuckDBInstance.create(file);
    const con = await instance.connect();
    for (const ddl of TRAINING_DDL) await con.run(ddl);
    return new TrainingStore(file, instance, con);
  }

  /** Writes the run row, or marks an existing one (a resumed run) running again. */
  async beginRun(ctx: TrainingRunContext): Promise<void> {
    const exists = await this.con.runAndReadAll("SELECT count(*)::INTEGER AS n FROM training_runs WHERE run_id = ?", [
      ctx.runId,
    ]);
    if ((exists.getRowObjectsJS()[0]?.n as number) > 0) {
      await this.con.run("UPDATE training_runs SET status = 'running', finished_at = NULL WHERE run_id = ?", [
        ctx.runId,
      ]);
      return;
    }
    await this.con.run(
      `INSERT INTO training_runs VALUES (?, ?, ?, ?, ?, ?, ?::JSON, ?, ?, ?, ?, ?::JSON, epoch_ms(?::BIGINT), NULL, 'running', NULL, NULL)`,
      [
        ctx.runId,
        ctx.algorithm,
        ctx.seed,
        ctx.totalTimesteps,
        ctx.engine,
        ctx.tfBackend,
        JSON.stringify(ctx.options),
        ctx.gitSha,
        process.version,
        hostname(),
        availableParallelism(),
        JSON.stringify(ctx.argv),
        ctx.startedAt.getTime(),
      ],
    );
  }

  /** Writes (or rewrites, on resume) one update's row. */
  async writeUpdate(runId: string, m: TrainingUpdateRow): Promise<void> {
    const values = [
      runId,
      m.update,
      m.globalStep,
      m.wallTimeS,
      m.stepsPerS,
      m.learningRate,
      m.episodes,
      finiteOrNull(m.epRewardMean),
      finiteOrNull(m.epRewardMin),
      finiteOrNull(m.epRewardMax),
      finiteOrNull(m.epLengthMean),
      m.sloHeldShare,
      finiteOrNull(m.recoveryTimeMeanS),
      m.recoveries,
      m.replicasMean,
      ...m.actionShare,
      ...m.executedShare,
      m.refusedShare,
      m.policyLoss,
      m.valueLoss,
      m.entropy,
      m.approxKl,
      m.clipFrac,
      finiteOrNull(m.explainedVariance),
      m.epochs,
    ];
    await this.con.run(
      `INSERT OR REPLACE INTO training_updates VALUES (${values.map(() => "?").join(", ")})`,
      values as (number | string | null)[],
    );
  }

  async finishRun(
    runId: string,
    status: TrainingRunStatus,
    model: { path: string; sha256: string } | null = null,
  ): Promise<void> {
    await this.con.run(
      `UPDATE training_runs SET status = ?, finished_at = current_timestamp::TIMESTAMP,
         model_path = coalesce(?, model_path), model_sha256 = coalesce(?, model_sha256) WHERE run_id = ?`,
      [status, model?.path ?? null, model?.sha256 ?? null, runId],
    );
  }

  /** The curve of a run, in update order (for tests and reports). */
  async updates(runId: string): Promise<Record<string, unknown>[]> {
    const r = await this.con.runAndReadAll("SELECT * FROM training_updates WHERE run_id = ? ORDER BY update", [runId]);
    return r.getRowObjectsJS() as Record<string, unknown>[];
  }

  async close(): Promise<void> {
    this.con.closeSync();
    this.instance.closeSync();
  }
}
