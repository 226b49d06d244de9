/**
 * Trace store write speed. Two parts:
 *
 * 1. Three ways to push `steps` rows through DuckDB's appender, each writing the same
 *    1,800 episodes x 200 steps with a commit every 131,072 rows (the store's default):
 *    row-wise `appendX` calls, `DuckDBDataChunk` vectors filled with `setItem`, and
 *    whole-column copies into chunk vectors handed over every 16,384 staged rows
 *    (harness/store-staging.ts, what the store does). "appended" times the appends
 *    and appender flushes only; "committed" adds BEGIN/COMMIT (at commit DuckDB
 *    compresses the transaction's rows into table blocks; WAL, checkpoints). The flush
 *    alone (DuckDB's native insert, no JavaScript in it) is printed too: it is the
 *    ceiling of "appended" on the machine at hand, whatever the JavaScript side does.
 *    Each mode writes the matrix twice into one new store. The first pass is what a fresh
 *    process pays: DuckDB touches its memory for the first time, and a page fault is
 *    expensive on a VM. The second pass reuses that memory: the rate a long run settles at.
 * 2. `TraceStore.writeEpisode` end to end on the same matrix (with 20 events per episode),
 *    batched as the store does by default and with one transaction per episode, up to the
 *    last commit and then the close (final checkpoint).
 *
 *   node --import tsx bench/store.ts
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { type DuckDBAppender, DuckDBDataChunk, DuckDBInstance, type DuckDBType } from "@duckdb/node-api";
import { DEFAULT_BATCH_ROWS, DRAIN_ROWS, TraceStore } from "../harness/store.ts";
import { makeMeta, makeRunContext, makeTrace, tempDir } from "../harness/store-fixtures.ts";
import { StepStaging } from "../harness/store-staging.ts";
import { type ColumnType, type EpisodeTrace, STEP_COLUMNS, type TraceEvent } from "../harness/trace.ts";
import { median } from "./stats.ts";

export interface StoreBenchOptions {
  /** @default 1800 */
  readonly episodes?: number;
  /** @default 200 */
  readonly steps?: number;
  /** Repetitions of the end-to-end part (the median is reported). @default 3 */
  readonly repetitions?: number;
}

export interface AppendFigure {
  readonly mode: string;
  /** The first pass: a fresh store in this process (DuckDB's memory first touched). */
  readonly fresh: PassFigure;
  /** The same writes again into the same store: the rate a long run settles at. */
  readonly steady: PassFigure;
}

export interface PassFigure {
  readonly appendedRowsPerSecond: number;
  readonly committedRowsPerSecond: number;
  /**
   * Rows/s of `flushSync` alone: DuckDB's native insert of the appender's buffered rows
   * into the table. No JavaScript runs in it, so it bounds "appended" from above.
   */
  readonly flushRowsPerSecond: number;
}

export interface WriteFigure {
  readonly mode: string;
  readonly batchRows: number;
  /** writeEpisode calls through the last commit, seconds. */
  readonly writeSeconds: number;
  /**
   * CPU time of the process over the same span (all threads), seconds. Next to the wall
   * time it shows how much of it was waiting for a CPU on a busy machine.
   */
  readonly cpuSeconds: number;
  /** The close after it (final checkpoint), seconds. */
  readonly closeSeconds: number;
  readonly rowsPerSecond: number;
  readonly msPerEpisode: number;
}

/** Commit size of part 1: the store's default. */
const BATCH_ROWS = DEFAULT_BATCH_ROWS;

/** A 200-step episode with varied values (compression sees realistic data) and 20 events. */
function sampleTrace(steps: number): EpisodeTrace {
  const events: Partial<TraceEvent>[] = Array.from({ length: 20 }, (_, k) => ({
    time: k * 100,
    kind: k % 2 === 0 ? "fault-injected" : "action-executed",
    action: k % 2 === 0 ? -1 : 1,
    podId: k % 5,
    // Names and uids as long as real ones (schema v5 stores both in every event row).
    podName: `demo-7d4b9c8f6-x${k % 5}k4p`,
    podUid: `0b8e5a7c-1d2f-4e3a-9b6c-7d8e9f0a1b2${k % 5}`,
    faultId: k,
    detail: `event ${k} on pod ${k % 5}`,
  }));
  return makeTrace(
    steps,
    (i) => ({
      desired_replicas: 3 + (i % 3),
      cpu: 0.3 + 0.5 * Math.abs(Math.sin(i / 7)),
      latency_ms: 50 + 400 * Math.abs(Math.sin(i / 13)),
      error_rate: (i % 17) / 1000,
      obs_cpu: 0.3 + 0.5 * Math.abs(Math.sin(i / 7)),
      proposed: i % 5,
      executed: i % 10 === 0 ? i % 5 : 0,
      applied: i % 10 === 0 ? 1 : 0,
      reason: i % 4,
      reward: Math.cos(i),
      slo_ok: i % 9 === 0 ? 0 : 1,
    }),
    events,
  );
}

// ---------------------------------------------------------------------------
// Part 1: appender modes

/** `flush` is the appender's flushSync, timed by the caller. */
type Writer = (appender: DuckDBAppender, episodeId: number, trace: EpisodeTrace, flush: () => void) => void;

/** One appendX call per value, the call for each column chosen once. */
const APPEND: Record<ColumnType, (a: DuckDBAppender, v: number) => void> = {
  INTEGER: (a, v) => a.appendInteger(v),
  DOUBLE: (a, v) => a.appendDouble(v),
  FLOAT: (a, v) => a.appendFloat(v),
  UTINYINT: (a, v) => a.appendUTinyInt(v),
  BOOLEAN: (a, v) => a.appendBoolean(v !== 0),
};

function rowWise(): { write: Writer; drain(a: DuckDBAppender): void } {
  const cols = STEP_COLUMNS.map(([name, type]) => [name, APPEND[type]] as const);
  return {
    write(a, episodeId, t) {
      for (let i = 0; i < t.length; i++) {
        a.appendInteger(episodeId);
        for (const [name, append] of cols) append(a, t.columns[name][i]!);
        a.endRow();
      }
    },
    drain() {},
  };
}

/** Public DuckDBDataChunk API: one chunk per episode, vectors filled with setItem. */
function chunkSetItem(types: DuckDBType[]): { write: Writer; drain(a: DuckDBAppender): void } {
  return {
    write(a, episodeId, t) {
      const chunk = DuckDBDataChunk.create(types, t.length);
      const ids = chunk.getColumnVector(0);
      for (let i = 0; i < t.length; i++) ids.setItem(i, episodeId);
      ids.flush();
      STEP_COLUMNS.forEach(([name, type], j) => {
        const v = chunk.getColumnVector(j + 1);
        const col = t.columns[name];
        if (type === "BOOLEAN") for (let i = 0; i < t.length; i++) v.setItem(i, col[i] !== 0);
        else for (let i = 0; i < t.length; i++) v.setItem(i, col[i]!);
        v.flush();
      });
      a.appendDataChunk(chunk);
    },
    drain() {},
  };
}

/**
 * What the store does: stage columns, and every DRAIN_ROWS rows copy them into chunk
 * vectors and flush them into the open transaction.
 */
function columnCopy(): { write: Writer; drain(a: DuckDBAppender): void } {
  const staging = new StepStaging(DRAIN_ROWS + 1024);
  return {
    write(a, episodeId, t, flush) {
      staging.add(episodeId, t);
      if (staging.rows >= DRAIN_ROWS) {
        staging.appendTo(a);
        flush();
      }
    },
    drain: (a) => staging.appendTo(a),
  };
}

async function benchAppendMode(
  mode: string,
  make: (types: DuckDBType[]) => { write: Writer; drain(a: DuckDBAppender): void },
  episodes: number,
  trace: EpisodeTrace,
): Promise<AppendFigure> {
  const dir = tempDir("store-bench-");
  const path = join(dir, "bench.duckdb");
  try {
    await (await TraceStore.open(path)).close(); // the schema
    const instance = await DuckDBInstance.create(path);
    const con = await instance.connect();
    const appender = await con.createAppender("steps");
    const types = Array.from({ length: appender.columnCount }, (_, j) => appender.columnType(j));
    const w = make(types);
    /** Writes episodes `first`..`first + episodes - 1`, committing as the store does. */
    const pass = async (first: number): Promise<PassFigure> => {
      let appendMs = 0;
      let flushMs = 0;
      const flush = () => {
        const f0 = performance.now();
        appender.flushSync();
        flushMs += performance.now() - f0;
      };
      let staged = 0;
      const last = first + episodes - 1;
      const t0 = performance.now();
      await con.run("BEGIN TRANSACTION");
      for (let e = first; e <= last; e++) {
        const a0 = performance.now();
        w.write(appender, e, trace, flush);
        staged += trace.length;
        if (staged >= BATCH_ROWS || e === last) {
          w.drain(appender);
          flush();
          appendMs += performance.now() - a0;
          await con.run("COMMIT");
          if (e < last) await con.run("BEGIN TRANSACTION");
          staged = 0;
        } else {
          appendMs += performance.now() - a0;
        }
      }
      const totalMs = performance.now() - t0;
      const rows = episodes * trace.length;
      return {
        appendedRowsPerSecond: rows / (appendMs / 1000),
        committedRowsPerSecond: rows / (totalMs / 1000),
        flushRowsPerSecond: rows / (flushMs / 1000),
      };
    };
    const fresh = await pass(1);
    // Pass 1's last commit (under a row group) went to the WAL; without this, the WAL of
    // both passes would cross DuckDB's 16 MiB threshold inside pass 2 and charge it a
    // checkpoint pass 1 never pays. The passes then differ only in what is warm.
    await con.run("CHECKPOINT");
    const steady = await pass(episodes + 1);
    appender.closeSync();
    con.closeSync();
    instance.closeSync();
    return { mode, fresh, steady };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// Part 2: TraceStore end to end

async function benchWrites(
  mode: string,
  batchRows: number,
  episodes: number,
  trace: EpisodeTrace,
): Promise<WriteFigure> {
  const dir = tempDir("store-bench-");
  try {
    const store = await TraceStore.open(join(dir, "bench.duckdb"), { batchRows });
    await store.beginRun(makeRunContext());
    const meta = Array.from({ length: episodes }, (_, seed) => makeMeta({ seed, steps: trace.length }));
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (const m of meta) await store.writeEpisode("run-1", m, trace);
    await store.flush();
    const t1 = performance.now();
    const cpu = process.cpuUsage(c0);
    await store.close();
    const t2 = performance.now();
    const rows = episodes * trace.length;
    return {
      mode,
      batchRows,
      writeSeconds: (t1 - t0) / 1000,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      closeSeconds: (t2 - t1) / 1000,
      rowsPerSecond: rows / ((t1 - t0) / 1000),
      msPerEpisode: (t1 - t0) / episodes,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function medianBy<T>(xs: T[], key: (x: T) => number): T {
  const s = [...xs].sort((a, b) => key(a) - key(b));
  return s[Math.floor(s.length / 2)]!;
}

/** Each figure's median over the runs, taken separately. */
function medianPass(runs: PassFigure[]): PassFigure {
  const of = (key: keyof PassFigure) => median(runs.map((f) => f[key]));
  return {
    appendedRowsPerSecond: of("appendedRowsPerSecond"),
    committedRowsPerSecond: of("committedRowsPerSecond"),
    flushRowsPerSecond: of("flushRowsPerSecond"),
  };
}

export async function benchStore(options: StoreBenchOptions = {}): Promise<{
  append: AppendFigure[];
  writes: WriteFigure[];
}> {
  const episodes = options.episodes ?? 1800;
  const reps = options.repetitions ?? 3;
  const trace = sampleTrace(options.steps ?? 200);
  await benchWrites("warm-up", DEFAULT_BATCH_ROWS, Math.min(episodes, 200), trace);
  const modes = [
    ["row-wise appendX", () => rowWise()],
    ["DuckDBDataChunk + setItem", chunkSetItem],
    ["column copy (the store's)", () => columnCopy()],
  ] as const;
  const append: AppendFigure[] = [];
  for (const [mode, make] of modes) {
    const runs: AppendFigure[] = [];
    for (let r = 0; r < reps; r++) runs.push(await benchAppendMode(mode, make, episodes, trace));
    append.push({ mode, fresh: medianPass(runs.map((f) => f.fresh)), steady: medianPass(runs.map((f) => f.steady)) });
  }
  const writes: WriteFigure[] = [];
  for (const [mode, batchRows] of [
    [`batched (${fmt(DEFAULT_BATCH_ROWS)} rows, default)`, DEFAULT_BATCH_ROWS],
    ["one transaction per episode", 1],
  ] as const) {
    const runs: WriteFigure[] = [];
    for (let r = 0; r < reps; r++) runs.push(await benchWrites(mode, batchRows, episodes, trace));
    writes.push(medianBy(runs, (f) => f.writeSeconds));
  }
  return { append, writes };
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Runs the bench and prints its figures. */
export async function printStoreBench(options: StoreBenchOptions = {}): Promise<void> {
  const episodes = options.episodes ?? 1800;
  const steps = options.steps ?? 200;
  const { append, writes } = await benchStore(options);
  console.log(
    `store: steps rows through the appender, ${fmt(episodes)} episodes x ${steps} steps ` +
      `(${STEP_COLUMNS.length + 1} columns) written twice into one new store, a commit every ` +
      `${fmt(BATCH_ROWS)} rows, median of ${options.repetitions ?? 3}`,
  );
  const pass = (label: string, f: PassFigure) =>
    `${label} ${fmt(f.appendedRowsPerSecond).padStart(10)} rows/s appended  ` +
    `${fmt(f.committedRowsPerSecond).padStart(10)} rows/s committed  ` +
    `(DuckDB's flush alone ${fmt(f.flushRowsPerSecond).padStart(10)} rows/s)`;
  for (const f of append) {
    console.log(`  ${f.mode.padEnd(28)} ${pass("first pass (fresh store)", f.fresh)}`);
    console.log(`  ${"".padEnd(28)} ${pass("second pass (steady)    ", f.steady)}`);
  }
  console.log(
    `store: TraceStore.writeEpisode, ${fmt(episodes)} episodes x ${steps} steps + 20 events, ` +
      `median of ${options.repetitions ?? 3}`,
  );
  for (const f of writes) {
    console.log(
      `  ${f.mode.padEnd(36)} ${f.writeSeconds.toFixed(2)} s (CPU ${f.cpuSeconds.toFixed(2)} s; ` +
        `close ${f.closeSeconds.toFixed(2)} s)  ` +
        `${fmt(f.rowsPerSecond).padStart(10)} rows/s  ${f.msPerEpisode.toFixed(3)} ms/episode`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await printStoreBench();
