/**
 * The hot path of the trace store: `steps` rows staged in column buffers, then handed to
 * DuckDB's appender as full data chunks.
 *
 * Why not the appender's row-wise `appendX` calls: that is one native call per value
 * (one per column per step row), which tops out far below the 1M rows/s the store needs. Why not
 * `DuckDBDataChunk.setColumnValues`: it calls `setItem` per value. Here each column is
 * staged in a typed array with the SQL type's memory layout (a `TypedArray.set` from the
 * trace's Float64Array converts natively), and one `copy_data_to_vector` per column moves up
 * to 2,048 rows into a chunk's vector: 36 native calls per 2,048 rows (bench/store.ts).
 */
import { createRequire } from "node:module";
import {
  BOOLEAN,
  DOUBLE,
  type DuckDBAppender,
  DuckDBDataChunk,
  type DuckDBType,
  FLOAT,
  INTEGER,
  UTINYINT,
} from "@duckdb/node-api";
import { STAGING_ARRAY, type StagingArray } from "./store-schema.ts";
import { type ColumnType, type EpisodeTrace, STEP_COLUMNS } from "./trace.ts";

/** The two raw binding calls the public API does not offer for whole columns. */
interface RawBindings {
  data_chunk_get_vector(chunk: unknown, columnIndex: number): unknown;
  copy_data_to_vector(
    vector: unknown,
    targetByteOffset: number,
    source: ArrayBufferLike,
    sourceByteOffset: number,
    byteCount: number,
  ): void;
}

/**
 * The native bindings, loaded from `@duckdb/node-api`'s own dependency so that the chunk
 * handles it creates and the functions used on them come from the same native library,
 * whatever version npm resolves.
 */
const bindings: RawBindings = (() => {
  const require = createRequire(import.meta.url);
  const api = require.resolve("@duckdb/node-api");
  const b = createRequire(api)("@duckdb/node-bindings") as Partial<RawBindings>;
  if (typeof b.data_chunk_get_vector !== "function" || typeof b.copy_data_to_vector !== "function") {
    throw new Error("@duckdb/node-bindings lacks data_chunk_get_vector/copy_data_to_vector; check its version");
  }
  return b as RawBindings;
})();

const DUCKDB_TYPE: Record<ColumnType, DuckDBType> = { INTEGER, DOUBLE, FLOAT, UTINYINT, BOOLEAN };

/** DuckDB's vector size: the most rows one data chunk holds. */
const CHUNK_ROWS = 2048;

/** Column buffers for `episode_id` followed by every STEP_COLUMNS column. */
export class StepStaging {
  /** Rows staged so far. */
  rows = 0;
  private columns: StagingArray[];
  private readonly chunk: DuckDBDataChunk;

  constructor(capacity: number) {
    this.columns = StepStaging.allocate(Math.max(capacity, CHUNK_ROWS));
    this.chunk = DuckDBDataChunk.create([INTEGER, ...STEP_COLUMNS.map(([, type]) => DUCKDB_TYPE[type])]);
  }

  private static allocate(capacity: number): StagingArray[] {
    return [new Int32Array(capacity), ...STEP_COLUMNS.map(([, type]) => new STAGING_ARRAY[type](capacity))];
  }

  /** Stages rows `[0, trace.length)` of every column, tagged with `episodeId`. */
  add(episodeId: number, trace: EpisodeTrace): void {
    const n = trace.length;
    const at = this.rows;
    this.reserve(at + n);
    const c = this.columns;
    (c[0] as Int32Array).fill(episodeId, at, at + n);
    for (let j = 0; j < STEP_COLUMNS.length; j++) {
      c[j + 1]!.set(trace.columns[STEP_COLUMNS[j]![0]].subarray(0, n), at);
    }
    this.rows = at + n;
  }

  /** Forgets rows past `rows` (an episode whose staging failed half-way). */
  truncate(rows: number): void {
    this.rows = rows;
  }

  /** Appends every staged row to `appender` (of the `steps` table) and empties the buffers. */
  appendTo(appender: DuckDBAppender): void {
    const raw = this.chunk.chunk;
    try {
      for (let off = 0; off < this.rows; off += CHUNK_ROWS) {
        const n = Math.min(CHUNK_ROWS, this.rows - off);
        for (let j = 0; j < this.columns.length; j++) {
          const col = this.columns[j]!;
          const bytes = col.BYTES_PER_ELEMENT;
          bindings.copy_data_to_vector(
            bindings.data_chunk_get_vector(raw, j),
            0,
            col.buffer,
            col.byteOffset + off * bytes,
            n * bytes,
          );
        }
        this.chunk.rowCount = n;
        appender.appendDataChunk(this.chunk);
      }
    } finally {
      this.rows = 0;
    }
  }

  private reserve(rows: number): void {
    const capacity = this.columns[0]!.length;
    if (rows <= capacity) return;
    const grown = StepStaging.allocate(Math.max(rows, capacity * 2));
    for (let j = 0; j < grown.length; j++) grown[j]!.set(this.columns[j]!.subarray(0, this.rows));
    this.columns = grown;
  }
}
