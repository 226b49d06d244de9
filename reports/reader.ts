/**
 * What reports read from a trace store: its runs, its `cell_metrics` and any SQL over its
 * tables and views. Declared here, by the reader, so reports stand below the store
 * (harness/store.ts's `TraceStore` is one) and never import it.
 */
import type { RunRow } from "../harness/core/runs.ts";
import type { CellMetricsRow } from "./views.ts";

export interface TraceReader {
  /** The store's file, for messages. */
  readonly path: string;
  /** Every run, oldest first, with its episode counts. */
  listRuns(): Promise<RunRow[]>;
  /** `cell_metrics` rows of one run (default: the latest started), ordered by cell. */
  cellMetrics(runId?: string): Promise<CellMetricsRow[]>;
  /** Rows of any SQL as JS values (BIGINT counts as numbers); `camelCase` renames snake_case columns. */
  query(
    sql: string,
    params?: (string | number | boolean | null)[],
    opts?: { camelCase?: boolean },
  ): Promise<Record<string, unknown>[]>;
}
