/**
 * The metric SQL (DESIGN.md, "Traces and metrics"): views over the trace store's tables
 * (harness/store-schema.ts). The store runs {@link METRIC_VIEWS} every time it opens a file,
 * so a change here applies to old files too, and everything downstream (reports, gates,
 * Parquet exports) reads metrics from these views and never recomputes them.
 *
 * Conventions: one row per step is one observation interval of `step_seconds`; a step's
 * action is the one decided at that observation (`executed` applied when `applied`).
 * Cell-level views count completed episodes only: an aborted or failed episode is cut short
 * and would bias every mean; `cell_metrics.incomplete` says how many were left out.
 */
import { Action } from "../harness/contract.ts";

/** A scale-up followed by a scale-down (or the reverse) within this many seconds is a flap. */
export const FLAP_WINDOW_S = 300;

/** Steps the SLO must hold in a row to confirm a recovery: `ceil(confirm_window_s / step_seconds)`, at least 1. */
const STEPS_NEEDED = "greatest(1, ceil(e.confirm_window_s / e.step_seconds))";

export interface MetricView {
  readonly name: string;
  readonly sql: string;
}

export const METRIC_VIEWS: readonly MetricView[] = [
  {
    /**
     * step_facts: one row per step, every `steps` column plus its episode's labels.
     * (run_id, fault, frequency, policy, seed, episode_status, step_seconds,
     *  confirm_window_s, episode_id, step, time_s, ...all STEP_COLUMNS)
     * For ad-hoc queries and charts; the metric views below read the tables directly.
     */
    name: "step_facts",
    sql: `SELECT e.run_id, e.fault, e.frequency, e.policy, e.seed, e.status AS episode_status,
        e.step_seconds, e.confirm_window_s, s.*
      FROM steps s JOIN episodes e USING (episode_id)`,
  },
  {
    /**
     * slo_streaks: one row per step. (episode_id, step, time_s, slo_ok, ok_ahead)
     * ok_ahead = how many consecutive SLO-ok steps start at this step (this one included),
     * 0 when the SLO is broken here. Consecutive ok steps share `step - row_number()`
     * (gaps-and-islands), so the streak's last step is the max step of that group.
     */
    name: "slo_streaks",
    sql: `SELECT episode_id, step, time_s, slo_ok,
        CASE WHEN slo_ok THEN max(step) OVER (PARTITION BY episode_id, slo_ok, island) - step + 1 ELSE 0 END AS ok_ahead
      FROM (
        SELECT episode_id, step, time_s, slo_ok,
          step - row_number() OVER (PARTITION BY episode_id, slo_ok ORDER BY step) AS island
        FROM steps
      )`,
  },
  {
    /**
     * recoveries: one row per `fault-injected` event.
     * (episode_id, fault_id, injected_at, recovered_at, recovery_s, impacted)
     * - recovered_at: time of the first step at or after the injection that starts a run of
     *   consecutive SLO-ok steps at least ceil(confirm_window_s / step_seconds) steps long
     *   (and at least 1), all inside the episode; NULL when there is none (unrecovered: the
     *   recovery is censored by the episode's end).
     * - impacted: the SLO broke at some step between the injection and recovered_at (or the
     *   episode's end when unrecovered).
     * - recovery_s: recovered_at - injected_at when impacted, 0 when the SLO never broke,
     *   NULL when unrecovered.
     * Both searches are ASOF joins: the nearest qualifying step at or after the injection.
     */
    name: "recoveries",
    sql: `WITH injections AS (
        SELECT episode_id, fault_id, time_s AS injected_at FROM events WHERE kind = 'fault-injected'
      ),
      confirmed AS (
        SELECT s.episode_id, s.time_s FROM slo_streaks s JOIN episodes e USING (episode_id)
        WHERE s.ok_ahead >= ${STEPS_NEEDED}
      ),
      breaches AS (SELECT episode_id, time_s FROM steps WHERE NOT slo_ok),
      found AS (
        SELECT i.episode_id, i.fault_id, i.injected_at, c.time_s AS recovered_at, b.time_s AS breached_at
        FROM injections i
        ASOF LEFT JOIN confirmed c ON i.episode_id = c.episode_id AND i.injected_at <= c.time_s
        ASOF LEFT JOIN breaches b ON i.episode_id = b.episode_id AND i.injected_at <= b.time_s
      )
      SELECT episode_id, fault_id, injected_at, recovered_at,
        CASE WHEN recovered_at IS NULL THEN NULL
             WHEN breached_at IS NOT NULL AND breached_at < recovered_at THEN recovered_at - injected_at
             ELSE 0 END AS recovery_s,
        breached_at IS NOT NULL AND (recovered_at IS NULL OR breached_at < recovered_at) AS impacted
      FROM found`,
  },
  {
    /**
     * episode_metrics: one row per episode (every status).
     * (episode_id, run_id, fault, frequency, policy, policy_name, seed, status, steps,
     *  uptime, replica_seconds, faults, recovered, unrecovered, mttr_s, recovery_s_total,
     *  actions, restarts,
     *  scale_ups, scale_downs, drains, unnecessary_actions, refused, flaps,
     *  drained_pod_seconds, regressions, policy_errors, return)
     * - steps: step rows recorded; uptime: share of them with slo_ok (NULL without steps)
     * - replica_seconds: sum of desired_replicas x step_seconds (cost)
     * - faults / recovered / unrecovered: rows of `recoveries`; mttr_s: mean recovery_s of
     *   the recovered ones (NULL when none recovered); recovery_s_total: their sum (0 when
     *   none), so that MTTR pooled over many episodes is sum(recovery_s_total) / sum(recovered)
     * - actions: steps whose action was applied, split by type into restarts, scale_ups,
     *   scale_downs and drains
     * - unnecessary_actions: applied while the SLO held and no fault was active
     * - refused: a non-noop proposal that was not applied (guard or backend refused it)
     * - flaps: applied scale actions whose previous applied scale action went the other way
     *   at most ${FLAP_WINDOW_S} s earlier
     * - drained_pod_seconds: sum of drained x step_seconds
     * - regressions / policy_errors: events of those kinds; return: sum of rewards
     */
    name: "episode_metrics",
    sql: `WITH per_step AS (
        SELECT episode_id,
          count(*) AS steps,
          avg(slo_ok::INTEGER) AS uptime,
          sum(desired_replicas) AS replica_steps,
          sum(drained) AS drained_steps,
          count(*) FILTER (applied) AS actions,
          count(*) FILTER (applied AND executed = ${Action.RestartPod}) AS restarts,
          count(*) FILTER (applied AND executed = ${Action.ScaleUp}) AS scale_ups,
          count(*) FILTER (applied AND executed = ${Action.ScaleDown}) AS scale_downs,
          count(*) FILTER (applied AND executed = ${Action.DrainPod}) AS drains,
          count(*) FILTER (applied AND slo_ok AND active_faults = 0) AS unnecessary_actions,
          count(*) FILTER (proposed <> ${Action.Noop} AND NOT applied) AS refused,
          sum(reward ORDER BY step) AS return
        FROM steps GROUP BY episode_id
      ),
      scales AS (
        SELECT episode_id, time_s, executed,
          lag(executed) OVER w AS prev_executed, lag(time_s) OVER w AS prev_time_s
        FROM steps
        WHERE applied AND executed IN (${Action.ScaleUp}, ${Action.ScaleDown})
        WINDOW w AS (PARTITION BY episode_id ORDER BY step)
      ),
      flaps AS (
        SELECT episode_id, count(*) AS flaps FROM scales
        WHERE executed <> prev_executed AND time_s - prev_time_s <= ${FLAP_WINDOW_S}
        GROUP BY episode_id
      ),
      faults AS (
        SELECT episode_id, count(*) AS faults, count(recovered_at) AS recovered,
          avg(recovery_s ORDER BY fault_id, injected_at) AS mttr_s,
          sum(recovery_s ORDER BY fault_id, injected_at) AS recovery_s_total
        FROM recoveries GROUP BY episode_id
      ),
      loop_events AS (
        SELECT episode_id,
          count(*) FILTER (kind = 'regression') AS regressions,
          count(*) FILTER (kind = 'policy-error') AS policy_errors
        FROM events GROUP BY episode_id
      )
      SELECT e.episode_id, e.run_id, e.fault, e.frequency, e.policy, e.policy_name, e.seed, e.status,
        coalesce(p.steps, 0) AS steps,
        p.uptime,
        coalesce(p.replica_steps, 0) * e.step_seconds AS replica_seconds,
        coalesce(f.faults, 0) AS faults,
        coalesce(f.recovered, 0) AS recovered,
        coalesce(f.faults, 0) - coalesce(f.recovered, 0) AS unrecovered,
        f.mttr_s,
        coalesce(f.recovery_s_total, 0) AS recovery_s_total,
        coalesce(p.actions, 0) AS actions,
        coalesce(p.restarts, 0) AS restarts,
        coalesce(p.scale_ups, 0) AS scale_ups,
        coalesce(p.scale_downs, 0) AS scale_downs,
        coalesce(p.drains, 0) AS drains,
        coalesce(p.unnecessary_actions, 0) AS unnecessary_actions,
        coalesce(p.refused, 0) AS refused,
        coalesce(fl.flaps, 0) AS flaps,
        coalesce(p.drained_steps, 0) * e.step_seconds AS drained_pod_seconds,
        coalesce(le.regressions, 0) AS regressions,
        coalesce(le.policy_errors, 0) AS policy_errors,
        coalesce(p.return, 0) AS return
      FROM episodes e
      LEFT JOIN per_step p USING (episode_id)
      LEFT JOIN flaps fl USING (episode_id)
      LEFT JOIN faults f USING (episode_id)
      LEFT JOIN loop_events le USING (episode_id)`,
  },
  {
    /**
     * slo_breakdown: one row per episode, which part of the SLO broke and for how long.
     * (episode_id, steps, breached, no_ready, latency_over, errors_over)
     * Shares of the episode's steps (0..1, NULL without steps) where: the SLO was broken
     * (breached = 1 - uptime); no replica was ready (ready_replicas < 1); latency was above
     * the episode's ceiling (latency_ms > slo_latency_ms); the error rate was above its
     * ceiling (error_rate > slo_error_rate). One step can break several parts, so the three
     * parts can add up to more than `breached`. The conditions are contract.ts `sloHolds`.
     */
    name: "slo_breakdown",
    sql: `SELECT e.episode_id,
        count(s.step) AS steps,
        avg((NOT s.slo_ok)::INTEGER) AS breached,
        avg((s.ready_replicas < 1)::INTEGER) AS no_ready,
        avg((s.latency_ms > e.slo_latency_ms)::INTEGER) AS latency_over,
        avg((s.error_rate > e.slo_error_rate)::INTEGER) AS errors_over
      FROM episodes e LEFT JOIN steps s USING (episode_id)
      GROUP BY e.episode_id`,
  },
  {
    /**
     * cell_metrics: one row per (run_id, fault, frequency, policy) that has any episode.
     * (run_id, fault, frequency, policy, episodes, seeds, incomplete, uptime_mean,
     *  faults, recovered, unrecovered, mttr_mean_s, mttr_median_s, mttr_p95_s,
     *  replica_seconds_mean, actions_mean, unnecessary_actions_mean, restarts_mean,
     *  flaps_mean, drained_pod_seconds_mean, refused_mean, regressions, policy_errors,
     *  return_mean)
     * Over completed episodes: `episodes` counts them, `seeds` their distinct seeds,
     * `incomplete` the aborted or failed ones left out. `*_mean` are means of the
     * episode_metrics column over episodes; faults, recovered, unrecovered, regressions and
     * policy_errors are totals. MTTR mean / median / p95 pool every recovered fault of the
     * cell (not a mean of episode means), NULL when none recovered. Confidence intervals
     * are computed in reports/, over seeds, from episode_metrics.
     */
    name: "cell_metrics",
    sql: `WITH cells AS (
        SELECT run_id, fault, frequency, policy, count(*) FILTER (status <> 'completed') AS incomplete
        FROM episodes GROUP BY ALL
      ),
      per_episode AS (
        SELECT run_id, fault, frequency, policy,
          count(*) AS episodes,
          count(DISTINCT seed) AS seeds,
          avg(uptime ORDER BY seed) AS uptime_mean,
          sum(faults) AS faults,
          sum(recovered) AS recovered,
          sum(unrecovered) AS unrecovered,
          avg(replica_seconds ORDER BY seed) AS replica_seconds_mean,
          avg(actions) AS actions_mean,
          avg(unnecessary_actions) AS unnecessary_actions_mean,
          avg(restarts) AS restarts_mean,
          avg(flaps) AS flaps_mean,
          avg(drained_pod_seconds ORDER BY seed) AS drained_pod_seconds_mean,
          avg(refused) AS refused_mean,
          sum(regressions) AS regressions,
          sum(policy_errors) AS policy_errors,
          avg(return ORDER BY seed) AS return_mean
        FROM episode_metrics WHERE status = 'completed' GROUP BY ALL
      ),
      recovery_times AS (
        SELECT e.run_id, e.fault, e.frequency, e.policy,
          avg(r.recovery_s ORDER BY e.seed, r.fault_id, r.injected_at) AS mttr_mean_s,
          median(r.recovery_s) AS mttr_median_s,
          quantile_cont(r.recovery_s, 0.95) AS mttr_p95_s
        FROM recoveries r JOIN episodes e USING (episode_id)
        WHERE e.status = 'completed' AND r.recovered_at IS NOT NULL
        GROUP BY ALL
      )
      SELECT c.run_id, c.fault, c.frequency, c.policy,
        coalesce(p.episodes, 0) AS episodes, coalesce(p.seeds, 0) AS seeds, c.incomplete,
        p.uptime_mean,
        coalesce(p.faults, 0) AS faults, coalesce(p.recovered, 0) AS recovered,
        coalesce(p.unrecovered, 0) AS unrecovered,
        r.mttr_mean_s, r.mttr_median_s, r.mttr_p95_s,
        p.replica_seconds_mean, p.actions_mean, p.unnecessary_actions_mean, p.restarts_mean,
        p.flaps_mean, p.drained_pod_seconds_mean, p.refused_mean,
        coalesce(p.regressions, 0) AS regressions, coalesce(p.policy_errors, 0) AS policy_errors,
        p.return_mean
      FROM cells c
      LEFT JOIN per_episode p USING (run_id, fault, frequency, policy)
      LEFT JOIN recovery_times r USING (run_id, fault, frequency, policy)`,
  },
  {
    /**
     * actions_by_type: one row per (run_id, fault, frequency, policy, action) where the
     * action (other than noop) was proposed or executed in a completed episode.
     * (run_id, fault, frequency, policy, action, proposed, executed, refused)
     * - proposed: steps whose proposal was this action
     * - executed: steps where this action was applied
     * - refused: steps where it was proposed and not applied
     */
    name: "actions_by_type",
    sql: `SELECT e.run_id, e.fault, e.frequency, e.policy, a.name AS action,
        count(*) FILTER (s.proposed = a.id) AS proposed,
        count(*) FILTER (s.applied AND s.executed = a.id) AS executed,
        count(*) FILTER (s.proposed = a.id AND NOT s.applied) AS refused
      FROM steps s
      JOIN episodes e USING (episode_id)
      JOIN actions a ON a.id IN (s.proposed, s.executed)
      WHERE e.status = 'completed' AND a.id <> ${Action.Noop}
      GROUP BY ALL`,
  },
];

export const VIEW_NAMES: readonly string[] = METRIC_VIEWS.map((v) => v.name);

/** The statements that (re)create every view, in dependency order. */
export function viewStatements(): string[] {
  return METRIC_VIEWS.map((v) => `CREATE OR REPLACE VIEW ${v.name} AS ${v.sql}`);
}

/** A `cell_metrics` row as the store returns it (columns in camelCase; counts as numbers). */
export interface CellMetricsRow {
  runId: string;
  fault: string;
  frequency: string;
  policy: string;
  episodes: number;
  seeds: number;
  incomplete: number;
  uptimeMean: number | null;
  faults: number;
  recovered: number;
  unrecovered: number;
  mttrMeanS: number | null;
  mttrMedianS: number | null;
  mttrP95S: number | null;
  replicaSecondsMean: number | null;
  actionsMean: number | null;
  unnecessaryActionsMean: number | null;
  restartsMean: number | null;
  flapsMean: number | null;
  drainedPodSecondsMean: number | null;
  refusedMean: number | null;
  regressions: number;
  policyErrors: number;
  returnMean: number | null;
}
