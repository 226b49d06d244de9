/**
 * Runs a dashboard's queries against Prometheus as Grafana would: variables expanded
 * (model.ts), range queries over the time range at the step, instant queries (stat panels) at
 * its end, and annotation queries over the range. The dashboards' live test asserts that
 * every query comes back with data ({@link noData}); `harness dashboard snapshot` draws the
 * results.
 */
import { pairValue, queryInstant, queryRange, sampleValue } from "../prometheus/api.ts";
import { PrometheusError, PrometheusErrorCode } from "../prometheus/errors.ts";
import { type DashboardModel, type DashboardQuery, dashboardQueries, expandQuery, legendOf } from "./model.ts";

export interface QueryRange {
  readonly startUnixS: number;
  readonly endUnixS: number;
  /** Seconds between points (Grafana's `$__interval`). */
  readonly stepS: number;
  /** The Prometheus's scrape interval, seconds (for `$__rate_interval`). */
  readonly scrapeIntervalS: number;
}

export interface Series {
  readonly labels: Readonly<Record<string, string>>;
  /** The legend Grafana would show (the target's legend format, filled). */
  readonly name: string;
  /** `[unix seconds, value]`, in time order; NaN and infinities as Prometheus sent them. */
  readonly points: readonly (readonly [number, number])[];
}

export interface QueryResult {
  readonly query: DashboardQuery;
  /** The query as sent (variables expanded). */
  readonly expr: string;
  readonly series: readonly Series[];
  /** Prometheus refused the query (or a variable is unknown); an unreachable Prometheus throws instead. */
  readonly error: string | null;
}

export interface RunOptions {
  readonly prometheusUrl: string;
  readonly range: QueryRange;
  /** Values of the dashboard's variables; missing ones take the dashboard's saved value. */
  readonly vars: Readonly<Record<string, string>>;
  /** Per-query timeout, ms. @default 30000 */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export async function runQuery(q: DashboardQuery, o: RunOptions): Promise<QueryResult> {
  const r = o.range;
  const call = { timeoutMs: o.timeoutMs ?? 30_000, signal: o.signal };
  let expr = q.expr;
  try {
    expr = expandQuery(q.expr, o.vars, {
      stepS: r.stepS,
      rangeS: r.endUnixS - r.startUnixS,
      scrapeIntervalS: r.scrapeIntervalS,
    });
    if (q.instant) {
      const reply = await queryInstant(o.prometheusUrl, expr, r.endUnixS, call);
      const series = reply.data.result.map((s) => ({
        labels: s.metric,
        name: legendOf(q.legend, s.metric),
        points: [[s.value[0], sampleValue(s)] as const],
      }));
      return { query: q, expr, series, error: null };
    }
    const reply = await queryRange(o.prometheusUrl, expr, r, call);
    const series = reply.data.result.map((s) => ({
      labels: s.metric,
      name: legendOf(q.legend, s.metric),
      points: s.values.map(([t, v]) => [t, pairValue(v)] as const),
    }));
    return { query: q, expr, series, error: null };
  } catch (e) {
    if (o.signal?.aborted) throw e;
    // Prometheus down or unreachable is the run's failure, not one panel's: say it once.
    if (e instanceof PrometheusError && e.code === PrometheusErrorCode.Unavailable) throw e;
    return { query: q, expr, series: [], error: e instanceof Error ? e.message : String(e) };
  }
}

/** Every query of the dashboard, one after the other (a loaded Prometheus answers in order). */
export async function runDashboardQueries(d: DashboardModel, o: RunOptions): Promise<QueryResult[]> {
  const out: QueryResult[] = [];
  for (const q of dashboardQueries(d)) out.push(await runQuery(q, o));
  return out;
}

/**
 * What Grafana would show as "No data" or an error: a refused query, no series, or series
 * without a single finite value. One line per query, naming the panel; empty when all is well.
 */
export function noData(results: readonly QueryResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    if (r.error !== null) out.push(`${r.query.where}: ${r.error}`);
    else if (r.series.length === 0) out.push(`${r.query.where}: no series for ${r.expr}`);
    else if (!r.series.some((s) => s.points.some(([, v]) => Number.isFinite(v)))) {
      out.push(`${r.query.where}: ${r.series.length} series, no finite value, for ${r.expr}`);
    }
  }
  return out;
}
