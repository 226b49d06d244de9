/**
 * The metric SQL (DESIGN.md, "Traces and metrics"): views over the trace store's tables
 * (harness/store-schema.ts). The store runs {@link METRIC_VIEWS} every time it opens a file,
 * so a change here applies to old files too, and everything downstream (reports, gates,
 * Parquet exports) reads metrics from these views and never recomputes them.
 *
 * Conventions (reports/README.md defines every metric in words, with examples):
 * - Sample and hold: a step's observation stands for the interval from its `time_s` to the
 *   next step's `time_s` (the last step: `step_seconds`). Every duration comes from `time_s`,
 *   never from step counts, so a real backend's uneven sampling is measured as it was.
 * - An incident is a maximal span in which the SLO does not hold; breaches separated by an
 *   SLO-ok span shorter than `confirm_window_s` are one incident. It recovers at the start of
 *   the first SLO-ok span that lasts `confirm_window_s`; one still open at the episode's end
 *   is censored.
 * - A fault is live from its `fault-injected` event to its `fault-ended` event (or the
 *   episode's end): contract.ts `FaultEndCause` defines the end by type.
 * - A step's action is the one decided at that observation (`executed` applied when `applied`).
 * Cell-level views count completed episodes only: an aborted or failed episode is cut short
 * and would bias every mean; `cell_metrics.incomplete` says how many were left out.
 */
import { Action } from "../harness/core/contract.ts";

/** A scale-up followed by a scale-down (or the reverse) within this many seconds is a flap. */
export const FLAP_WINDOW_S = 300;

/**
 * An action is harmful when, over the confirmation window after it, the SLO was broken for
 * longer than in the paired `none` episode (same run, cell and seed: the same faults and
 * load) by more than this share of the window.
 */
export const HARM_TOLERANCE = 0.1;

/** Policy type whose episodes are the counterfactual of every other policy's actions. */
export const COUNTERFACTUAL_POLICY = "none";

/** Float slack for comparing sums of `time_s` differences with a window length. */
const EPS = 1e-9;

export interface MetricView {
  readonly name: string;
  readonly sql: string;
}

/**
 * The derived relations the metric views share, each over the tables and the stages it
 * depends on. A view runs the stages it needs as materialized CTEs (`_spans`, `_incidents`,
 * ...), so `episode_metrics` computes the per-step spans once rather than once per
 * reference; the SQL of each stage is written once, here.
 */
interface Stage {
  readonly deps: readonly StageName[];
  readonly sql: string;
}
type StageName =
  | "spans"
  | "episode_spans"
  | "incidents"
  | "fault_spans"
  | "fault_outcomes"
  | "attribution"
  | "judgements"
  | "breakdown"
  | "episode_metrics";

const STAGES: Record<StageName, Stage> = {
  /**
   * One row per step with the interval it stands for.
   * - dt_s: next step's time_s - time_s; for the last step, the episode's step_seconds
   * - run_start_s: time_s of the first step of the run of equal slo_ok this step is in
   * - *_cum_s: running sums from the episode's start to the end of this step of observed
   *   time, SLO-broken time, replica-seconds, drained pod-seconds, and time with each SLO
   *   part broken. Per-episode totals are the last step's values (far cheaper than ordered
   *   aggregates). A window's partial sums can group the values differently with another
   *   storage order, so these totals are bit-identical across runs only when step times are
   *   exact binary fractions (the simulator's 5, 10 or 30 s steps: every partial sum is
   *   exact); the return, a sum of arbitrary floats, is an ordered aggregate.
   * - broken_ahead_s: SLO-broken time over the observations in (t, t + confirm_window_s]
   */
  spans: {
    deps: [],
    sql: `SELECT episode_id, step, time_s, dt_s, slo_ok,
        max(CASE WHEN changed THEN time_s END) OVER w AS run_start_s,
        sum(dt_s) OVER w AS observed_cum_s,
        sum(broken_s) OVER w AS broken_cum_s,
        sum(desired_replicas * dt_s) OVER w AS replica_cum_s,
        sum(drained * dt_s) OVER w AS drained_cum_s,
        sum(CASE WHEN no_ready THEN dt_s ELSE 0 END) OVER w AS no_ready_cum_s,
        sum(CASE WHEN latency_over THEN dt_s ELSE 0 END) OVER w AS latency_over_cum_s,
        sum(CASE WHEN errors_over THEN dt_s ELSE 0 END) OVER w AS errors_over_cum_s,
        sum(broken_s) OVER (PARTITION BY episode_id ORDER BY time_s
          RANGE BETWEEN CURRENT ROW AND confirm_window_s + ${EPS} FOLLOWING) - broken_s AS broken_ahead_s,
        applied, executed, proposed, reward
      FROM (
        SELECT *, CASE WHEN slo_ok THEN 0 ELSE dt_s END AS broken_s FROM (
        SELECT s.episode_id, s.step, s.time_s, s.slo_ok, s.applied, s.executed, s.proposed,
          s.desired_replicas, s.drained, s.reward, e.confirm_window_s,
          s.ready_replicas < 1 AS no_ready,
          s.latency_ms > e.slo_latency_ms AS latency_over,
          s.error_rate > e.slo_error_rate AS errors_over,
          coalesce(lead(s.time_s) OVER v, s.time_s + e.step_seconds) - s.time_s AS dt_s,
          s.slo_ok IS DISTINCT FROM lag(s.slo_ok) OVER v AS changed
        FROM steps s JOIN episodes e USING (episode_id)
        WINDOW v AS (PARTITION BY s.episode_id ORDER BY s.step)
      ))
      WINDOW w AS (PARTITION BY episode_id ORDER BY step ROWS UNBOUNDED PRECEDING)`,
  },
  /** One row per episode with steps: its first step's time and the end of its last step. */
  episode_spans: {
    deps: [],
    sql: `SELECT s.episode_id, min(s.time_s) AS started_s, max(s.time_s) + any_value(e.step_seconds) AS ended_s
      FROM steps s JOIN episodes e USING (episode_id) GROUP BY s.episode_id`,
  },
  incidents: {
    deps: ["spans", "episode_spans"],
    sql: `WITH runs AS (
        SELECT episode_id, slo_ok, run_start_s AS start_s FROM _spans GROUP BY episode_id, run_start_s, slo_ok
      ),
      bounded AS (
        SELECT r.episode_id, r.slo_ok, r.start_s,
          coalesce(lead(r.start_s) OVER w, x.ended_s) AS end_s, e.confirm_window_s, x.ended_s AS episode_end_s
        FROM runs r JOIN _episode_spans x USING (episode_id) JOIN episodes e USING (episode_id)
        WINDOW w AS (PARTITION BY r.episode_id ORDER BY r.start_s)
      ),
      flagged AS (
        SELECT *, slo_ok AND end_s - start_s >= confirm_window_s - ${EPS} AS confirms FROM bounded
      ),
      numbered AS (
        SELECT *,
          sum(confirms::INTEGER) OVER (PARTITION BY episode_id ORDER BY start_s ROWS UNBOUNDED PRECEDING) AS incident,
          lead(confirms) OVER (PARTITION BY episode_id ORDER BY start_s) AS next_confirms
        FROM flagged
      )
      SELECT episode_id, incident,
        min(start_s) AS started_at,
        CASE WHEN arg_max(next_confirms, start_s) THEN max(end_s) END AS recovered_at,
        NOT coalesce(arg_max(next_confirms, start_s), false) AS censored,
        CASE WHEN arg_max(next_confirms, start_s) THEN max(end_s) - min(start_s) END AS ttr_s,
        CASE WHEN arg_max(next_confirms, start_s) THEN max(end_s) ELSE any_value(episode_end_s) END
          - min(start_s) AS observed_s,
        sum(end_s - start_s ORDER BY start_s) AS downtime_s,
        count(*) AS breaches
      FROM numbered WHERE NOT slo_ok
      GROUP BY episode_id, incident`,
  },
  fault_spans: {
    deps: ["episode_spans"],
    sql: `SELECT f.episode_id, f.fault_id, f.fault_type,
        CASE WHEN f.injected_at IS NOT NULL THEN 'injected' WHEN f.skipped THEN 'skipped' ELSE 'unreached' END AS status,
        f.injected_at, f.ended_at,
        CASE WHEN f.injected_at IS NOT NULL THEN coalesce(f.ended_at, x.ended_s) END AS live_until,
        f.pod_id, f.target_rank, f.fault
      FROM (
        SELECT episode_id, fault_id,
          arg_min(regexp_extract(detail, '^[a-z-]+'), seq) AS fault_type,
          min(time_s) FILTER (kind = 'fault-injected') AS injected_at,
          min(time_s) FILTER (kind = 'fault-ended') AS ended_at,
          bool_or(kind = 'fault-skipped') AS skipped,
          arg_min(pod_id, seq) FILTER (kind = 'fault-injected') AS pod_id,
          arg_min(target_rank, seq) FILTER (kind = 'fault-injected') AS target_rank,
          arg_min(fault, seq) FILTER (fault IS NOT NULL) AS fault
        FROM events
        WHERE kind IN ('fault-injected', 'fault-ended', 'fault-skipped', 'fault-unreached')
        GROUP BY episode_id, fault_id
      ) f
      LEFT JOIN _episode_spans x USING (episode_id)`,
  },
  fault_outcomes: {
    deps: ["incidents", "fault_spans"],
    sql: `SELECT f.episode_id, f.fault_id, f.fault_type, f.injected_at, f.live_until,
        count(i.incident) FILTER (i.started_at >= f.injected_at) AS incidents,
        CASE WHEN count(i.incident) FILTER (i.started_at >= f.injected_at) > 0 THEN 'impacted'
             WHEN count(i.incident) > 0 THEN 'masked' ELSE 'absorbed' END AS outcome,
        CASE WHEN count(i.incident) FILTER (i.started_at >= f.injected_at) > 0
              AND NOT bool_or(i.censored) FILTER (i.started_at >= f.injected_at)
             THEN max(i.recovered_at) FILTER (i.started_at >= f.injected_at) - f.injected_at END AS fault_ttr_s
      FROM _fault_spans f
      LEFT JOIN _incidents i ON i.episode_id = f.episode_id AND i.started_at < f.live_until
        AND (i.recovered_at IS NULL OR i.recovered_at > f.injected_at)
      WHERE f.status = 'injected'
      GROUP BY f.episode_id, f.fault_id, f.fault_type, f.injected_at, f.live_until`,
  },
  attribution: {
    deps: ["incidents", "fault_spans"],
    sql: `SELECT i.episode_id, i.incident, count(f.fault_id) AS faults
      FROM _incidents i
      LEFT JOIN _fault_spans f ON f.episode_id = i.episode_id AND f.status = 'injected'
        AND f.injected_at <= i.started_at AND i.started_at < f.live_until
      GROUP BY i.episode_id, i.incident`,
  },
  judgements: {
    deps: ["spans", "fault_spans"],
    // The counterfactual's broken time over the same window is its step's broken_ahead_s at
    // the action's time (as of: the last step at or before it).
    sql: `WITH counterfactual AS (
        SELECT run_id, fault, frequency, seed, min(episode_id) AS paired_id FROM episodes
        WHERE policy_name = '${COUNTERFACTUAL_POLICY}' AND status = 'completed' GROUP BY ALL
      ),
      acts AS (
        SELECT s.episode_id, s.step, s.time_s, s.slo_ok, s.run_start_s, s.broken_ahead_s, e.confirm_window_s,
          CASE WHEN c.paired_id <> s.episode_id THEN c.paired_id END AS paired_id
        FROM _spans s JOIN episodes e USING (episode_id)
        LEFT JOIN counterfactual c ON c.run_id = e.run_id AND c.fault = e.fault AND c.frequency = e.frequency
          AND c.seed = e.seed
        WHERE s.applied AND s.executed <> ${Action.Noop}
      ),
      live AS (
        SELECT a.episode_id, a.step, count(f.fault_id) > 0 AS fault_live
        FROM acts a LEFT JOIN _fault_spans f ON f.episode_id = a.episode_id AND f.status = 'injected'
          AND f.injected_at <= a.time_s AND a.time_s <= f.live_until
        GROUP BY a.episode_id, a.step
      ),
      paired AS (
        SELECT a.episode_id, a.step, p.broken_ahead_s
        FROM (SELECT * FROM acts WHERE paired_id IS NOT NULL) a
        ASOF JOIN (
          SELECT episode_id, time_s, broken_ahead_s FROM _spans
          WHERE episode_id IN (SELECT paired_id FROM counterfactual)
        ) p ON p.episode_id = a.paired_id AND p.time_s <= a.time_s + ${EPS}
      )
      SELECT a.episode_id, a.step, a.time_s, l.fault_live,
        NOT l.fault_live AND a.slo_ok AND a.run_start_s <= a.time_s - a.confirm_window_s + ${EPS} AS unnecessary,
        a.broken_ahead_s - p.broken_ahead_s AS harm_s,
        a.broken_ahead_s - p.broken_ahead_s > ${HARM_TOLERANCE} * a.confirm_window_s + ${EPS} AS harmful
      FROM acts a
      JOIN live l USING (episode_id, step)
      LEFT JOIN paired p USING (episode_id, step)`,
  },
  /** Shares of observed time with the SLO, and each part of it, broken. */
  breakdown: {
    deps: ["spans"],
    sql: `SELECT episode_id, count(*) AS steps,
        arg_max(broken_cum_s, step) / arg_max(observed_cum_s, step) AS breached,
        arg_max(no_ready_cum_s, step) / arg_max(observed_cum_s, step) AS no_ready,
        arg_max(latency_over_cum_s, step) / arg_max(observed_cum_s, step) AS latency_over,
        arg_max(errors_over_cum_s, step) / arg_max(observed_cum_s, step) AS errors_over
      FROM _spans GROUP BY episode_id`,
  },
  episode_metrics: {
    deps: ["spans", "incidents", "attribution", "fault_spans", "fault_outcomes", "judgements", "breakdown"],
    sql: `WITH per_step AS (
        SELECT episode_id,
          count(*) AS steps,
          arg_max(observed_cum_s, step) AS observed_s,
          arg_max(replica_cum_s, step) AS replica_seconds,
          arg_max(drained_cum_s, step) AS drained_pod_seconds,
          arg_max(broken_cum_s, step) AS downtime_s,
          count(*) FILTER (applied) AS actions,
          count(*) FILTER (applied AND executed = ${Action.RestartPod}) AS restarts,
          count(*) FILTER (applied AND executed = ${Action.ScaleUp}) AS scale_ups,
          count(*) FILTER (applied AND executed = ${Action.ScaleDown}) AS scale_downs,
          count(*) FILTER (applied AND executed = ${Action.DrainPod}) AS drains,
          count(*) FILTER (proposed <> ${Action.Noop} AND NOT applied) AS refused,
          sum(reward ORDER BY step) AS return
        FROM _spans GROUP BY episode_id
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
      inc AS (
        SELECT i.episode_id,
          count(*) AS incidents,
          count(*) FILTER (NOT i.censored) AS closed_incidents,
          count(*) FILTER (i.censored) AS censored_incidents,
          coalesce(sum(i.ttr_s ORDER BY i.incident) FILTER (NOT i.censored), 0) AS ttr_s_total,
          sum(i.observed_s ORDER BY i.incident) AS observed_ttr_s_total,
          avg(i.ttr_s ORDER BY i.incident) AS mttr_s,
          count(*) FILTER (a.faults = 0) AS unattributed_incidents,
          coalesce(sum(i.downtime_s ORDER BY i.incident) FILTER (a.faults = 0), 0) AS unattributed_downtime_s
        FROM _incidents i JOIN _attribution a USING (episode_id, incident)
        GROUP BY i.episode_id
      ),
      flt AS (
        SELECT f.episode_id,
          count(*) FILTER (f.status = 'injected') AS faults,
          count(*) FILTER (f.status = 'skipped') AS skipped_faults,
          count(*) FILTER (f.status = 'unreached') AS unreached_faults,
          count(*) FILTER (o.outcome = 'impacted') AS impacted_faults,
          count(*) FILTER (o.outcome = 'absorbed') AS absorbed_faults,
          count(*) FILTER (o.outcome = 'masked') AS masked_faults,
          count(o.fault_ttr_s) AS recovered_faults,
          coalesce(sum(o.fault_ttr_s ORDER BY f.fault_id), 0) AS fault_ttr_s_total
        FROM _fault_spans f LEFT JOIN _fault_outcomes o USING (episode_id, fault_id)
        GROUP BY f.episode_id
      ),
      judged AS (
        SELECT episode_id,
          count(*) FILTER (unnecessary) AS unnecessary_actions,
          count(harm_s) AS judged_actions,
          count(*) FILTER (harmful) AS harmful_actions
        FROM _judgements GROUP BY episode_id
      ),
      loop_events AS (
        SELECT episode_id,
          count(*) FILTER (kind = 'regression') AS regressions,
          count(*) FILTER (kind = 'policy-error') AS policy_errors
        FROM events GROUP BY episode_id
      )
      SELECT e.episode_id, e.run_id, e.fault, e.frequency, e.policy, e.policy_name, e.seed, e.status,
        coalesce(p.steps, 0) AS steps,
        coalesce(p.observed_s, 0) AS observed_s,
        1 - p.downtime_s / p.observed_s AS uptime,
        coalesce(p.replica_seconds, 0) AS replica_seconds,
        coalesce(p.drained_pod_seconds, 0) AS drained_pod_seconds,
        coalesce(i.incidents, 0) AS incidents,
        coalesce(i.closed_incidents, 0) AS closed_incidents,
        coalesce(i.censored_incidents, 0) AS censored_incidents,
        coalesce(i.ttr_s_total, 0) AS ttr_s_total,
        coalesce(i.observed_ttr_s_total, 0) AS observed_ttr_s_total,
        i.mttr_s,
        coalesce(p.downtime_s, 0) AS downtime_s,
        coalesce(i.unattributed_incidents, 0) AS unattributed_incidents,
        coalesce(i.unattributed_downtime_s, 0) AS unattributed_downtime_s,
        coalesce(f.faults, 0) AS faults,
        coalesce(f.impacted_faults, 0) AS impacted_faults,
        coalesce(f.absorbed_faults, 0) AS absorbed_faults,
        coalesce(f.masked_faults, 0) AS masked_faults,
        coalesce(f.skipped_faults, 0) AS skipped_faults,
        coalesce(f.unreached_faults, 0) AS unreached_faults,
        coalesce(f.recovered_faults, 0) AS recovered_faults,
        coalesce(f.fault_ttr_s_total, 0) AS fault_ttr_s_total,
        coalesce(p.actions, 0) AS actions,
        coalesce(p.restarts, 0) AS restarts,
        coalesce(p.scale_ups, 0) AS scale_ups,
        coalesce(p.scale_downs, 0) AS scale_downs,
        coalesce(p.drains, 0) AS drains,
        coalesce(j.unnecessary_actions, 0) AS unnecessary_actions,
        coalesce(j.judged_actions, 0) AS judged_actions,
        CASE WHEN coalesce(p.actions, 0) = 0 THEN 0 WHEN j.judged_actions > 0 THEN j.harmful_actions END
          AS harmful_actions,
        coalesce(p.refused, 0) AS refused,
        coalesce(fl.flaps, 0) AS flaps,
        coalesce(le.regressions, 0) AS regressions,
        coalesce(le.policy_errors, 0) AS policy_errors,
        coalesce(p.return, 0) AS return,
        b.breached, b.no_ready, b.latency_over, b.errors_over
      FROM episodes e
      LEFT JOIN per_step p USING (episode_id)
      LEFT JOIN flaps fl USING (episode_id)
      LEFT JOIN inc i USING (episode_id)
      LEFT JOIN flt f USING (episode_id)
      LEFT JOIN judged j USING (episode_id)
      LEFT JOIN loop_events le USING (episode_id)
      LEFT JOIN _breakdown b USING (episode_id)`,
  },
};

/** `WITH _a AS MATERIALIZED (...), ...` for `needed` and everything they depend on, in order. */
function withStages(...needed: StageName[]): string {
  const order: StageName[] = [];
  const visit = (name: StageName) => {
    if (order.includes(name)) return;
    for (const d of STAGES[name].deps) visit(d);
    order.push(name);
  };
  for (const n of needed) visit(n);
  return `WITH ${order.map((n) => `_${n} AS MATERIALIZED (${STAGES[n].sql})`).join(",\n")}\n`;
}

/** A view that is one stage as it stands. */
const stageView = (name: StageName) => `${withStages(name)} SELECT * FROM _${name}`;

/**
 * Kaplan-Meier median time to recover per group of incidents (from `_incidents`): `at_risk`
 * counts the incidents still open at each one's observed time (closed ones before censored
 * ones at a tie), the survival is the running product of (1 - 1/at_risk) over closed
 * incidents, and the median is the first closed incident's time at which it falls to 0.5 or
 * below (NULL when it never does: more than half are censored before closing).
 */
function kaplanMeierMedian(groupBy: string): string {
  return `SELECT ${groupBy}, min(observed_s) FILTER (NOT censored AND surv <= 0.5 + ${EPS}) AS mttr_km_median_s
      FROM (
        SELECT ${groupBy}, observed_s, censored,
          product(CASE WHEN censored THEN 1.0 ELSE 1.0 - 1.0 / at_risk END)
            OVER (PARTITION BY ${groupBy} ORDER BY observed_s, censored ROWS UNBOUNDED PRECEDING) AS surv
        FROM (
          SELECT ${groupBy}, observed_s, censored,
            count(*) OVER (PARTITION BY ${groupBy} ORDER BY observed_s, censored
              ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS at_risk
          FROM _incidents JOIN episodes e USING (episode_id)
          WHERE e.status = 'completed'
        )
      ) GROUP BY ALL`;
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
     * step_spans: one row per step with the interval it stands for.
     * (episode_id, step, time_s, dt_s, slo_ok, run_start_s, observed_cum_s, broken_cum_s,
     *  replica_cum_s, drained_cum_s, no_ready_cum_s, latency_over_cum_s, errors_over_cum_s,
     *  broken_ahead_s, applied, executed, proposed, reward)
     * - dt_s: next step's time_s - time_s; for the last step, the episode's step_seconds
     * - run_start_s: time_s of the first step of the run of equal slo_ok this step is in
     * - *_cum_s: running sums to the end of this step (observed time, SLO-broken time,
     *   replica-seconds, drained pod-seconds, time with each SLO part broken)
     * - broken_ahead_s: SLO-broken time over the observations in (t, t + confirm_window_s]
     */
    name: "step_spans",
    sql: stageView("spans"),
  },
  {
    /**
     * episode_spans: one row per episode with steps. (episode_id, started_s, ended_s)
     * ended_s: the last step's time_s + step_seconds (the end of what was observed).
     */
    name: "episode_spans",
    sql: stageView("episode_spans"),
  },
  {
    /**
     * incidents: one row per incident.
     * (episode_id, incident, started_at, recovered_at, censored, ttr_s, observed_s,
     *  downtime_s, breaches)
     * - SLO runs are maximal runs of steps with equal slo_ok; an ok run confirms a recovery
     *   when it lasts (to the next run's start, or the episode's end) >= confirm_window_s.
     * - An incident groups the breached runs between two confirming ok runs; `incident`
     *   numbers them within the episode from 0.
     * - started_at: its first breached step; recovered_at: the start of the confirming ok run
     *   after it, NULL when the episode ends first (censored).
     * - ttr_s: recovered_at - started_at (NULL when censored); observed_s: the same, or up to
     *   the episode's end when censored (what a restricted mean and Kaplan-Meier use).
     * - downtime_s: time with the SLO broken inside it; breaches: its breached runs.
     */
    name: "incidents",
    sql: stageView("incidents"),
  },
  {
    /**
     * fault_spans: one row per scheduled fault the backend or loop reported.
     * (episode_id, fault_id, fault_type, status, injected_at, ended_at, live_until, pod_id,
     *  target_rank, fault)
     * - status: 'injected', 'skipped' (a pod fault with no running pod) or 'unreached'
     *   (due after the episode's last step)
     * - ended_at: the first `fault-ended` event; NULL when the effect lasted to the end
     * - live_until: ended_at, or the episode's end; NULL unless injected
     * - fault_type: the type the event's detail starts with (the backends write it first)
     * - fault: the scheduled FaultInjection as JSON (id, atS, spec, targetKey)
     */
    name: "fault_spans",
    sql: stageView("fault_spans"),
  },
  {
    /**
     * fault_outcomes: one row per injected fault.
     * (episode_id, fault_id, fault_type, injected_at, live_until, incidents, outcome,
     *  fault_ttr_s)
     * - incidents: incidents attributed to it: started while it was live
     *   (injected_at <= started_at < live_until)
     * - outcome: 'impacted' (>= 1 incident), 'masked' (none of its own, but it was live
     *   during an incident that started earlier), 'absorbed' (no incident overlaps its span)
     * - fault_ttr_s: the latest recovery among its incidents - injected_at; NULL when it had
     *   none or one of them is censored
     */
    name: "fault_outcomes",
    sql: stageView("fault_outcomes"),
  },
  {
    /**
     * incident_attribution: one row per incident. (episode_id, incident, faults)
     * faults: faults live when it started (0: unattributed downtime, often an action's doing).
     */
    name: "incident_attribution",
    sql: stageView("attribution"),
  },
  {
    /**
     * action_judgements: one row per applied action.
     * (episode_id, step, time_s, fault_live, unnecessary, harm_s, harmful)
     * - fault_live: some fault was live at the action (its end counts: an action that ends
     *   a fault acted on it)
     * - unnecessary: no fault live, and the SLO had held for the last confirm_window_s
     * - harm_s: SLO-broken time over the observations in (t, t + confirm_window_s] minus the
     *   same in the paired \`none\` episode (same run, fault, frequency and seed); NULL without one
     * - harmful: harm_s > HARM_TOLERANCE x confirm_window_s
     */
    name: "action_judgements",
    sql: stageView("judgements"),
  },
  {
    /**
     * episode_metrics: one row per episode (every status).
     * (episode_id, run_id, fault, frequency, policy, policy_name, seed, status, steps,
     *  observed_s, uptime, replica_seconds, drained_pod_seconds,
     *  incidents, closed_incidents, censored_incidents, ttr_s_total, observed_ttr_s_total,
     *  mttr_s, downtime_s, unattributed_incidents, unattributed_downtime_s,
     *  faults, impacted_faults, absorbed_faults, masked_faults, skipped_faults,
     *  unreached_faults, recovered_faults, fault_ttr_s_total,
     *  actions, restarts, scale_ups, scale_downs, drains, unnecessary_actions,
     *  judged_actions, harmful_actions, refused, flaps, regressions, policy_errors, return,
     *  breached, no_ready, latency_over, errors_over)
     * - observed_s: time covered by the steps; uptime: share of it with the SLO held
     *   (NULL without steps); replica_seconds: desired replicas x time (cost);
     *   drained_pod_seconds: drained pods x time
     * - incidents (see the view): closed + censored; ttr_s_total: sum of closed ttr_s (so a
     *   pooled MTTR is sum(ttr_s_total) / sum(closed_incidents)); observed_ttr_s_total: sum
     *   of observed_s over all of them (the restricted mean's numerator); mttr_s: the
     *   episode's mean over closed incidents (NULL with none)
     * - downtime_s: SLO-broken time; unattributed_*: incidents no fault was live for
     * - faults: injected faults; impacted/absorbed/masked: their outcomes; skipped /
     *   unreached: scheduled faults that never acted; recovered_faults: impacted with a
     *   fault_ttr_s, summed in fault_ttr_s_total
     * - actions: applied, split by type; unnecessary_actions and harmful_actions from
     *   action_judgements; judged_actions: actions with a paired \`none\` episode
     *   (harmful_actions is NULL when the episode has actions and none was judged)
     * - refused: a non-noop proposal that was not applied (guard or backend refused it)
     * - flaps: applied scale actions whose previous applied scale action went the other way
     *   at most ${FLAP_WINDOW_S} s earlier
     * - regressions: raw \`regression\` events (the loop's own check, no counterfactual);
     *   policy_errors: events of that kind; return: sum of rewards
     * - breached, no_ready, latency_over, errors_over: as in slo_breakdown
     */
    name: "episode_metrics",
    sql: stageView("episode_metrics"),
  },
  {
    /**
     * slo_breakdown: one row per episode, which part of the SLO broke and for how long.
     * (episode_id, steps, breached, no_ready, latency_over, errors_over)
     * Shares of the episode's observed time (0..1, NULL without steps) where: the SLO was
     * broken (breached = 1 - uptime); no replica was ready (ready_replicas < 1); latency was
     * above the episode's ceiling (latency_ms > slo_latency_ms); the error rate was above its
     * ceiling (error_rate > slo_error_rate). One step can break several parts, so the three
     * parts can add up to more than \`breached\`. The conditions are contract.ts \`sloHolds\`.
     */
    name: "slo_breakdown",
    sql: `${withStages("breakdown")} SELECT e.episode_id, coalesce(b.steps, 0) AS steps,
        b.breached, b.no_ready, b.latency_over, b.errors_over
      FROM episodes e LEFT JOIN _breakdown b USING (episode_id)`,
  },
  {
    /**
     * cell_metrics: one row per (run_id, fault, frequency, policy) that has any episode.
     * (run_id, fault, frequency, policy, episodes, seeds, incomplete, uptime_mean,
     *  incidents, closed_incidents, censored_incidents, mttr_mean_s, mttr_median_s,
     *  mttr_p95_s, mttr_km_median_s, mttr_restricted_s, unattributed_downtime_s_mean,
     *  faults, impacted_faults, absorbed_faults, masked_faults, skipped_faults,
     *  unreached_faults, fault_ttr_mean_s, replica_seconds_mean, actions_mean,
     *  unnecessary_actions_mean, harmful_actions_mean, restarts_mean, flaps_mean,
     *  drained_pod_seconds_mean, refused_mean, regressions, policy_errors, return_mean)
     * Over completed episodes: \`episodes\` counts them, \`seeds\` their distinct seeds,
     * \`incomplete\` the aborted or failed ones left out. \`*_mean\` are means of the
     * episode_metrics column over episodes; counts are totals. MTTR mean / median / p95 pool
     * every closed incident of the cell (NULL when none closed); mttr_km_median_s is the
     * Kaplan-Meier median over all incidents, censored ones included; mttr_restricted_s the
     * mean of observed_s (time to recover, or to the episode's end when censored);
     * fault_ttr_mean_s pools recovered faults. Confidence intervals are computed in
     * reports/, over seeds, from episode_metrics.
     */
    name: "cell_metrics",
    sql: `${withStages("episode_metrics")},
      cells AS (
        SELECT run_id, fault, frequency, policy, count(*) FILTER (status <> 'completed') AS incomplete
        FROM episodes GROUP BY ALL
      ),
      per_episode AS (
        SELECT run_id, fault, frequency, policy,
          count(*) AS episodes,
          count(DISTINCT seed) AS seeds,
          avg(uptime ORDER BY seed) AS uptime_mean,
          sum(incidents) AS incidents,
          sum(closed_incidents) AS closed_incidents,
          sum(censored_incidents) AS censored_incidents,
          sum(observed_ttr_s_total ORDER BY seed) / nullif(sum(incidents), 0) AS mttr_restricted_s,
          avg(unattributed_downtime_s ORDER BY seed) AS unattributed_downtime_s_mean,
          sum(faults) AS faults,
          sum(impacted_faults) AS impacted_faults,
          sum(absorbed_faults) AS absorbed_faults,
          sum(masked_faults) AS masked_faults,
          sum(skipped_faults) AS skipped_faults,
          sum(unreached_faults) AS unreached_faults,
          sum(fault_ttr_s_total ORDER BY seed) / nullif(sum(recovered_faults), 0) AS fault_ttr_mean_s,
          avg(replica_seconds ORDER BY seed) AS replica_seconds_mean,
          avg(actions) AS actions_mean,
          avg(unnecessary_actions) AS unnecessary_actions_mean,
          avg(harmful_actions) AS harmful_actions_mean,
          avg(restarts) AS restarts_mean,
          avg(flaps) AS flaps_mean,
          avg(drained_pod_seconds ORDER BY seed) AS drained_pod_seconds_mean,
          avg(refused) AS refused_mean,
          sum(regressions) AS regressions,
          sum(policy_errors) AS policy_errors,
          avg(return ORDER BY seed) AS return_mean
        FROM _episode_metrics WHERE status = 'completed' GROUP BY ALL
      ),
      recovery_times AS (
        SELECT e.run_id, e.fault, e.frequency, e.policy,
          avg(i.ttr_s ORDER BY e.seed, i.incident) AS mttr_mean_s,
          median(i.ttr_s) AS mttr_median_s,
          quantile_cont(i.ttr_s, 0.95) AS mttr_p95_s
        FROM _incidents i JOIN episodes e USING (episode_id)
        WHERE e.status = 'completed' AND NOT i.censored
        GROUP BY ALL
      ),
      km AS (${kaplanMeierMedian("run_id, fault, frequency, policy")})
      SELECT c.run_id, c.fault, c.frequency, c.policy,
        coalesce(p.episodes, 0) AS episodes, coalesce(p.seeds, 0) AS seeds, c.incomplete,
        p.uptime_mean,
        coalesce(p.incidents, 0) AS incidents, coalesce(p.closed_incidents, 0) AS closed_incidents,
        coalesce(p.censored_incidents, 0) AS censored_incidents,
        r.mttr_mean_s, r.mttr_median_s, r.mttr_p95_s, k.mttr_km_median_s, p.mttr_restricted_s,
        p.unattributed_downtime_s_mean,
        coalesce(p.faults, 0) AS faults, coalesce(p.impacted_faults, 0) AS impacted_faults,
        coalesce(p.absorbed_faults, 0) AS absorbed_faults, coalesce(p.masked_faults, 0) AS masked_faults,
        coalesce(p.skipped_faults, 0) AS skipped_faults, coalesce(p.unreached_faults, 0) AS unreached_faults,
        p.fault_ttr_mean_s,
        p.replica_seconds_mean, p.actions_mean, p.unnecessary_actions_mean, p.harmful_actions_mean,
        p.restarts_mean, p.flaps_mean, p.drained_pod_seconds_mean, p.refused_mean,
        coalesce(p.regressions, 0) AS regressions, coalesce(p.policy_errors, 0) AS policy_errors,
        p.return_mean
      FROM cells c
      LEFT JOIN per_episode p USING (run_id, fault, frequency, policy)
      LEFT JOIN recovery_times r USING (run_id, fault, frequency, policy)
      LEFT JOIN km k USING (run_id, fault, frequency, policy)`,
  },
  {
    /**
     * policy_incidents: one row per (run_id, policy): the cell_metrics MTTR figures pooled
     * over every cell of the run. (run_id, policy, incidents, closed_incidents,
     * censored_incidents, mttr_mean_s, mttr_median_s, mttr_p95_s, mttr_restricted_s,
     * mttr_km_median_s), completed episodes only.
     */
    name: "policy_incidents",
    sql: `${withStages("incidents")},
      pooled AS (
        SELECT e.run_id, e.policy,
          count(*) AS incidents,
          count(*) FILTER (NOT i.censored) AS closed_incidents,
          count(*) FILTER (i.censored) AS censored_incidents,
          avg(i.ttr_s ORDER BY e.fault, e.frequency, e.seed, i.incident) AS mttr_mean_s,
          median(i.ttr_s) AS mttr_median_s,
          quantile_cont(i.ttr_s, 0.95) AS mttr_p95_s,
          avg(i.observed_s ORDER BY e.fault, e.frequency, e.seed, i.incident) AS mttr_restricted_s
        FROM _incidents i JOIN episodes e USING (episode_id)
        WHERE e.status = 'completed'
        GROUP BY ALL
      ),
      km AS (${kaplanMeierMedian("run_id, policy")})
      SELECT * FROM pooled LEFT JOIN km USING (run_id, policy)`,
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
  incidents: number;
  closedIncidents: number;
  censoredIncidents: number;
  mttrMeanS: number | null;
  mttrMedianS: number | null;
  mttrP95S: number | null;
  mttrKmMedianS: number | null;
  mttrRestrictedS: number | null;
  unattributedDowntimeSMean: number | null;
  faults: number;
  impactedFaults: number;
  absorbedFaults: number;
  maskedFaults: number;
  skippedFaults: number;
  unreachedFaults: number;
  faultTtrMeanS: number | null;
  replicaSecondsMean: number | null;
  actionsMean: number | null;
  unnecessaryActionsMean: number | null;
  harmfulActionsMean: number | null;
  restartsMean: number | null;
  flapsMean: number | null;
  drainedPodSecondsMean: number | null;
  refusedMean: number | null;
  regressions: number;
  policyErrors: number;
  returnMean: number | null;
}
