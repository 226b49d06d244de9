/**
 * The matrix runner: expands a scenario into episodes, runs them on a pool of worker
 * threads, and hands each finished episode to the trace store, which commits whole
 * episodes in batches (at least once a second; see store.ts for why not one by one).
 *
 * - Resumable: `resume` continues the latest run of the same plan in the database and
 *   skips every episode it already stored. On an abort (Ctrl-C, SIGTERM) the episodes in
 *   flight still finish and are committed, and nothing new starts; a `kill -9` loses the
 *   episodes in flight and those finished in the last second, never half an episode.
 * - Sharded: `shard` runs a deterministic 1/N slice (see plan.ts); every shard of a plan
 *   records the same run id, so `harness merge` puts the shards back into one run.
 * - Reporters are optional hooks (progress bar, logs, tests), called in the main thread.
 */
import { randomBytes } from "node:crypto";
import { availableParallelism, hostname } from "node:os";
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import { modelChecksums, preparePolicy } from "../policies/index.ts";
import { backendFor } from "./backends.ts";
import { formatShard, type Shard } from "./core/runs.ts";
import { type EpisodeOutcome, type RecordedInputs, runPlannedEpisode } from "./episode.ts";
import { expandPlan, type PlannedEpisode, type PlanOptions, planSha256, shardOf } from "./plan.ts";
import { gitRevision } from "./provenance.ts";
import type { LoadedScenario } from "./scenario-file.ts";
import { type EpisodeMeta, type RunContext, type StoreOptions, TraceStore } from "./store.ts";
import type { WorkerResult, WorkerTask } from "./worker.ts";

export interface RunOptions {
  readonly loaded: LoadedScenario;
  /** The DuckDB file; created with its parent folder when missing. */
  readonly db: string;
  /**
   * Worker threads, at most the core count and the episodes to run (more only adds
   * threads and memory: a thread per job, each with its own simulator and model).
   * @default os.availableParallelism()
   */
  readonly jobs?: number;
  /** Narrow the matrix (`--seeds`, `--policies`). */
  readonly plan?: PlanOptions;
  /** Continue the latest run of the same plan (and shard) in `db`. @default false */
  readonly resume?: boolean;
  /** Run only this slice of the plan. @default null (all of it) */
  readonly shard?: Shard | null;
  /** Stops dispatching; episodes in flight finish and are written. */
  readonly signal?: AbortSignal;
  /**
   * Stops now (a second Ctrl-C): the worker threads are terminated, episodes in flight are
   * abandoned, what finished is written and the run is recorded interrupted. Ending the
   * process instead while threads still load modules aborted Node (exit 134).
   */
  readonly stop?: AbortSignal;
  readonly reporters?: readonly RunReporter[];
  /** The command line, stored with the run. */
  readonly argv?: readonly string[];
  /** Told when `db` was of an older schema version and has been migrated on open. @default a line on stderr */
  readonly onStoreMigrated?: StoreOptions["onMigrated"];
  /**
   * A replay's recorded faults and load (harness/replay-run.ts), by {@link recordedKey} of an
   * episode's cell and seed: every episode runs them instead of what its seed generates. An
   * episode of the plan without an entry is refused before anything runs.
   */
  readonly recorded?: ReadonlyMap<string, RecordedInputs>;
}

/** The key of {@link RunOptions.recorded}: a cell and seed (every policy of it shares faults and load). */
export function recordedKey(fault: string, frequency: string, seed: number): string {
  return `${fault}|${frequency}|${seed}`;
}

function recordedFor(o: RunOptions, e: PlannedEpisode): RecordedInputs | undefined {
  return o.recorded?.get(recordedKey(e.fault.label, e.frequency.label, e.seed));
}

export interface RunStart {
  readonly runId: string;
  readonly resumed: boolean;
  /** Episodes of this run (or shard) in total, stored ones included. */
  readonly total: number;
  /** Already stored by an earlier attempt; not run again. */
  readonly skipped: number;
  /**
   * Worker threads used: `jobsRequested` capped at the cores and the episodes to run; for an
   * in-process backend, episodes at once (its `maxConcurrency`, capped by `--jobs`).
   */
  readonly jobs: number;
  /** What was asked (`--jobs`, else the core count). */
  readonly jobsRequested: number;
  readonly cores: number;
}

export interface EpisodeDone {
  readonly episode: PlannedEpisode;
  readonly outcome: EpisodeOutcome;
  /** Finished so far in this attempt, this one included. */
  readonly done: number;
  /** To run in this attempt. */
  readonly todo: number;
}

export interface RunSummary {
  readonly runId: string;
  readonly db: string;
  readonly total: number;
  readonly skipped: number;
  readonly completed: number;
  readonly failed: number;
  readonly interrupted: boolean;
  readonly wallMs: number;
}

/** Hooks in the manner of vitest's reporters; all optional. */
export interface RunReporter {
  onRunStart?(start: RunStart): void;
  onEpisodeEnd?(done: EpisodeDone): void;
  onRunEnd?(summary: RunSummary): void;
}

const WORKER = fileURLToPath(new URL("./worker-entry.mjs", import.meta.url));

export async function runScenario(o: RunOptions): Promise<RunSummary> {
  const started = performance.now();
  const { loaded } = o;
  const { scenario } = loaded;
  const shard = o.shard ?? null;
  const cores = availableParallelism();
  const jobsRequested = Math.max(1, o.jobs ?? cores);
  const fullPlan = expandPlan(scenario, o.plan);
  const planSha = planSha256(loaded.sha256, fullPlan);
  const slice = shardOf(fullPlan, shard);
  const reporters = o.reporters ?? [];
  if (o.recorded) {
    const missing = slice.filter((e) => recordedFor(o, e) === undefined).map((e) => e.key);
    if (missing.length > 0) throw new Error(`No recorded faults and load for episode ${missing.join(", ")}`);
  }
  // A model that cannot load stops the run here, before the store or any episode: not the
  // rl cells one by one while the other policies run.
  await prepareModels(slice);

  const store = await TraceStore.open(o.db, o.onStoreMigrated ? { onMigrated: o.onStoreMigrated } : {});
  let runId: string | null = null;
  let threw = false;
  try {
    const previous = o.resume ? await store.findRun(planSha, formatShard(shard)) : null;
    runId = previous?.runId ?? newRunId(scenario.name, planSha, shard);
    const stored = previous ? await store.storedEpisodeKeys(runId) : new Set<string>();
    if (!previous) await store.beginRun(runContext(o, runId, planSha, shard));
    else await store.markRunning(runId);

    const todo = slice.filter((e) => !stored.has(e.key));
    // Worker threads for the simulator; for an in-process backend, episodes at once (each
    // mostly waits on the wall clock, so the backend's own limit applies, not the cores).
    const factory = backendFor(scenario);
    const jobs = factory.inProcess
      ? Math.max(1, Math.min(factory.maxConcurrency?.(scenario) ?? 1, o.jobs ?? Number.POSITIVE_INFINITY, todo.length))
      : Math.max(1, Math.min(jobsRequested, cores, todo.length));
    const start: RunStart = {
      runId,
      resumed: previous !== null,
      total: slice.length,
      skipped: slice.length - todo.length,
      jobs,
      jobsRequested,
      cores,
    };
    for (const r of reporters) r.onRunStart?.(start);

    let done = 0;
    let completed = 0;
    let failed = 0;
    const id = runId;
    // An episode stopped mid-way by the signal (in-process backends pass it to the loop).
    let abortedInFlight = false;
    const write = async (outcome: EpisodeOutcome) => {
      const episode = fullPlan[outcome.index]!;
      await store.writeEpisode(id, episodeMeta(o.loaded, episode, outcome), outcome.trace);
      done++;
      if (outcome.status === "completed") completed++;
      else failed++;
      if (outcome.status === "aborted") abortedInFlight = true;
      for (const r of reporters) r.onEpisodeEnd?.({ episode, outcome, done, todo: todo.length });
    };

    if (todo.length > 0) await dispatch(o, todo, jobs, write, runId);

    const interrupted =
      (o.signal?.aborted === true || o.stop?.aborted === true) && (done < todo.length || abortedInFlight);
    await store.finishRun(runId, interrupted ? "interrupted" : "completed");
    const summary: RunSummary = {
      runId,
      db: o.db,
      total: slice.length,
      skipped: start.skipped,
      completed,
      failed,
      interrupted,
      wallMs: performance.now() - started,
    };
    for (const r of reporters) r.onRunEnd?.(summary);
    return summary;
  } catch (err) {
    threw = true;
    // A run that cannot go on (a full disk, a store error) must not stay `running`: record
    // it as failed if the store still takes a write; the error is the caller's either way.
    // Twice, because the first flush may only hand back a background commit's error.
    for (let attempt = 0; attempt < 2 && runId !== null; attempt++) {
      if (
        await store.finishRun(runId, "failed").then(
          () => true,
          () => false,
        )
      )
        break;
    }
    throw err;
  } finally {
    // After a failure, closing must not replace the error that explains it.
    if (threw) await store.close().catch(() => {});
    else await store.close();
  }
}

/** Loads every model the episodes' policies need, once, in this thread (see preparePolicy). */
async function prepareModels(episodes: readonly PlannedEpisode[]): Promise<void> {
  const seen = new Set<string>();
  for (const e of episodes) {
    const key = `${e.policy.name}|${JSON.stringify(e.policy.params)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    await preparePolicy(e.policy.name, e.policy.params);
  }
}

/**
 * Runs `todo` in batches on the pool: one lane more than workers, so that a worker never
 * waits while a lane writes its batch. Writes are serialised (one DuckDB connection).
 */
async function dispatch(
  o: RunOptions,
  todo: readonly PlannedEpisode[],
  jobs: number,
  write: (outcome: EpisodeOutcome) => Promise<void>,
  runId: string,
): Promise<void> {
  // A real testbed: in this thread, with the run's abort signal, `jobs` episodes at once
  // (each on its own deployment); writes one at a time (one DuckDB connection).
  if (backendFor(o.loaded.scenario).inProcess) {
    let next = 0;
    let writing = Promise.resolve();
    const lane = async () => {
      while (next < todo.length && !o.signal?.aborted) {
        const e = todo[next++]!;
        const outcome = await runPlannedEpisode(o.loaded.scenario, e, o.signal, recordedFor(o, e), runId);
        const written = writing.then(() => write(outcome));
        writing = written;
        await written;
      }
    };
    // Every lane ends before the first error is thrown: none may write to a closed store.
    const ended = await Promise.allSettled(Array.from({ length: jobs }, lane));
    const failed = ended.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    return;
  }
  // Batches small enough for a smooth progress bar, large enough to amortise messaging.
  const size = Math.min(16, Math.max(1, Math.floor(todo.length / (jobs * 16))));
  const batches: number[][] = [];
  const byIndex = new Map(todo.map((e) => [e.index, e]));
  for (let i = 0; i < todo.length; i += size) batches.push(todo.slice(i, i + size).map((e) => e.index));

  const pool = new Piscina({ filename: WORKER, minThreads: jobs, maxThreads: jobs });
  // Piscina emits "error" for a worker's answer to a task it no longer tracks (a pool
  // destroyed with that task in flight); unheard, the emitter would throw it uncaught.
  let poolError: unknown;
  pool.on("error", (err: unknown) => {
    if (!o.stop?.aborted) poolError ??= err;
  });
  const stopNow = () => {
    pool.destroy().catch(() => {});
  };
  o.stop?.addEventListener("abort", stopNow, { once: true });
  // A lane that fails halts the others before their next batch; the pool is destroyed
  // only once every lane has ended, so no answer arrives for a task the pool dropped.
  let halted = false;
  let next = 0;
  let writing = Promise.resolve();
  const lane = async () => {
    while (next < batches.length && !halted && !o.signal?.aborted && !o.stop?.aborted) {
      const task: WorkerTask = {
        scenarioText: o.loaded.text,
        fileName: o.loaded.fileName,
        scenarioSha256: o.loaded.sha256,
        planOptions: o.plan ?? {},
        indices: batches[next]!,
        ...(o.recorded
          ? {
              recorded: Object.fromEntries(batches[next]!.map((i) => [i, recordedFor(o, byIndex.get(i)!)!] as const)),
            }
          : {}),
      };
      next++;
      try {
        const result = (await pool.run(task)) as WorkerResult;
        const written = writing.then(async () => {
          for (const outcome of result.outcomes) await write(outcome);
        });
        writing = written;
        await written;
      } catch (err) {
        halted = true;
        throw err;
      }
    }
  };
  try {
    const ended = await Promise.allSettled(Array.from({ length: Math.min(jobs + 1, batches.length) }, lane));
    const failed = ended.find((r): r is PromiseRejectedResult => r.status === "rejected");
    // The tasks of a pool destroyed on purpose reject: that is the stop, not a failure.
    if (failed && !o.stop?.aborted) throw failed.reason;
    if (poolError !== undefined) throw poolError;
  } finally {
    o.stop?.removeEventListener("abort", stopNow);
    await writing.catch(() => {});
    if (!o.stop?.aborted) await pool.destroy();
  }
}

function episodeMeta(loaded: LoadedScenario, e: PlannedEpisode, outcome: EpisodeOutcome): EpisodeMeta {
  const s = loaded.scenario;
  return {
    key: e.key,
    fault: e.fault.label,
    frequency: e.frequency.label,
    policy: e.policy.label,
    policyName: e.policy.name,
    seed: e.seed,
    backend: s.backend,
    status: outcome.status,
    error: outcome.error,
    steps: outcome.trace.length,
    stepSeconds: s.stepSeconds,
    confirmWindowS: s.slo.confirmWindowS,
    sloLatencyMs: s.slo.latencyMs,
    sloErrorRate: s.slo.errorRate,
    wallMs: outcome.wallMs,
    faultSpecs: e.fault.faults,
  };
}

/**
 * A fresh run gets a unique id; every shard of one plan gets the same id (from the plan's
 * hash) so that their databases merge into one run.
 */
function newRunId(name: string, planSha: string, shard: Shard | null): string {
  if (shard !== null) return `${name}-${planSha.slice(0, 12)}`;
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "");
  return `${name}-${stamp}-${randomBytes(3).toString("hex")}`;
}

function runContext(o: RunOptions, runId: string, planSha: string, shard: Shard | null): RunContext {
  const s = o.loaded.scenario;
  return {
    runId,
    scenarioName: s.name,
    scenarioSha256: o.loaded.sha256,
    scenarioText: o.loaded.text,
    planSha256: planSha,
    shard: formatShard(shard),
    backend: s.backend,
    gitSha: gitRevision(),
    nodeVersion: process.version,
    host: hostname(),
    cpus: availableParallelism(),
    argv: [...(o.argv ?? process.argv.slice(2))],
    // path -> sha256 of every model file the rl cells name.
    modelChecksums: modelChecksums(s),
    seeds: [...(o.plan?.seeds ?? s.seeds)],
    startedAt: new Date(),
  };
}
