/**
 * The Grafana dashboards, as code (@grafana/grafana-foundation-sdk): `scripts/gen-dashboards.ts`
 * writes them to `cluster/grafana/*.json`, which cluster/kind/up.sh loads into Grafana, and a
 * test keeps the files equal to this code.
 *
 * Every query reads a series the project exports, by the names of its exporters:
 * - service health: kube-state-metrics (`kube_*`), cAdvisor (`container_*`) and the service's
 *   requests (`http_*`), with the collector's selectors (cluster/prometheus/queries.ts), so
 *   the panels show what the controller observes, on the testbed and on a cluster alike;
 * - the controller (harness/controller/metrics.ts, `controller_*`), the agent service
 *   (policies/service/metrics.ts, `agent_*`), the trainer (policies/ppo/metrics.ts, `ppo_*`).
 * No query ends in `or vector(0)`: a renamed metric must read "No data" (and fail the
 * dashboards' test), not a flat zero. Counters the panels need from the start are created at 0
 * by their exporters instead.
 *
 * Variables: `namespace` and `deployment` (the controlled Deployment), and Grafana's own
 * `$__rate_interval`, `$__range`, `$__interval`; `harness dashboard snapshot` expands the same
 * ones (cluster/grafana/model.ts).
 */

import { BigValueTextMode, ReduceDataOptionsBuilder } from "@grafana/grafana-foundation-sdk/common";
import {
  AnnotationQueryBuilder,
  CustomVariableBuilder as Custom,
  type Dashboard,
  DashboardBuilder,
  RowBuilder,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { DataqueryBuilder } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as StatPanel } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as TimeseriesPanel } from "@grafana/grafana-foundation-sdk/timeseries";

/** The data source up.sh provisions (cluster/kind/grafana-values.yaml: uid `prometheus`). */
export const DATASOURCE = { type: "prometheus", uid: "prometheus" } as const;

/** One query of a panel: PromQL and its legend (Grafana's `{{label}}` template). */
interface Query {
  readonly expr: string;
  readonly legend?: string;
}

interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly queries: readonly Query[];
  /** A Grafana unit id (`ms`, `percentunit`, `reqps`, `bytes`, `s`, `short`, ...). */
  readonly unit: string;
  /** Grid columns of 24. @default 8 */
  readonly width?: number;
  readonly min?: number;
  readonly max?: number;
  /** Stat panels: show the series' legend (e.g. the model's sha256), not its value. */
  readonly showName?: boolean;
}

const HEIGHT = 8;
const STAT_HEIGHT = 4;

function targets(queries: readonly Query[], instant: boolean): DataqueryBuilder[] {
  return queries.map((q, i) => {
    const b = new DataqueryBuilder()
      .datasource(DATASOURCE)
      .refId(String.fromCharCode(65 + i))
      .expr(q.expr)
      .legendFormat(q.legend ?? "__auto");
    return instant ? b.instant() : b.range();
  });
}

function timeseries(id: number, p: PanelSpec): TimeseriesPanel {
  const b = new TimeseriesPanel()
    .id(id)
    .title(p.title)
    .description(p.description)
    .datasource(DATASOURCE)
    .targets(targets(p.queries, false))
    .unit(p.unit)
    .height(HEIGHT)
    .span(p.width ?? 8);
  if (p.min !== undefined) b.min(p.min);
  if (p.max !== undefined) b.max(p.max);
  return b;
}

/** A single number: the last value over the dashboard's range (or the series' name, `showName`). */
function stat(id: number, p: PanelSpec): StatPanel {
  const b = new StatPanel()
    .id(id)
    .title(p.title)
    .description(p.description)
    .datasource(DATASOURCE)
    .targets(targets(p.queries, true))
    .unit(p.unit)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(["lastNotNull"]))
    .height(STAT_HEIGHT)
    .span(p.width ?? 4);
  if (p.showName) b.textMode(BigValueTextMode.Name);
  return b;
}

function variable(name: string, value: string, label: string): Custom {
  return new Custom(name).label(label).values(value).current({ text: value, value }).allowCustomValue(true);
}

// ---------------------------------------------------------------------------
// Selectors: the collector's (cluster/prometheus/queries.ts), with the variables.

/** The demo service's pods: a ReplicaSet pod name of the deployment. */
const POD = 'namespace="$namespace",pod=~"$deployment-[a-z0-9]+-[a-z0-9]+"';
const CONTAINER = `${POD},container!="",container!="POD"`;
/** Service traffic (not probes, not scrapes); `pod=""`: requests no pod received (no ready endpoint). */
const HTTP = 'namespace="$namespace",pod=~"$deployment-[a-z0-9]+-[a-z0-9]+|",route!~"/health|/ready|/metrics"';
const DEPLOYMENT = 'namespace="$namespace",deployment="$deployment"';
const RATE = "[$__rate_interval]";

// ---------------------------------------------------------------------------

function controllerDashboard(): Dashboard {
  let id = 0;
  const ts = (p: PanelSpec) => timeseries(++id, p);
  const st = (p: PanelSpec) => stat(++id, p);
  return new DashboardBuilder("chaos-rl: controller")
    .uid("chaos-rl-controller")
    .description(
      "The service the controller keeps healthy, what the controller decided and why, the chaos it injected and how fast the service recovered.",
    )
    .tags(["chaos-rl"])
    .refresh("10s")
    .time({ from: "now-30m", to: "now" })
    .timezone("utc")
    .withVariable(variable("namespace", "chaos-rl", "Namespace"))
    .withVariable(variable("deployment", "demo", "Deployment"))
    .annotation(
      new AnnotationQueryBuilder()
        .name("Chaos experiments")
        .datasource(DATASOURCE)
        .enable(true)
        .iconColor("red")
        .expr("changes(controller_chaos_experiments_total[$__rate_interval]) > 0")
        .titleFormat("chaos: {{fault}}")
        .step("$__interval"),
    )
    .annotation(
      new AnnotationQueryBuilder()
        .name("Recoveries")
        .datasource(DATASOURCE)
        .enable(true)
        .iconColor("green")
        .expr('changes(controller_events_total{kind="recovered"}[$__rate_interval]) > 0')
        .titleFormat("recovered")
        .step("$__interval"),
    )
    .withRow(new RowBuilder("Service health: $namespace/$deployment").id(100))
    .withPanel(
      st({
        title: "Uptime",
        description: "Share of the range in which the SLO held (controller_slo_health = 1).",
        queries: [{ expr: "avg_over_time((controller_slo_health >= bool 1)[$__range:$__interval])", legend: "uptime" }],
        unit: "percentunit",
      }),
    )
    .withPanel(
      st({
        title: "Ready replicas",
        description: "kube-state-metrics: the Deployment's ready replicas now.",
        queries: [{ expr: `max(kube_deployment_status_replicas_ready{${DEPLOYMENT}})`, legend: "ready" }],
        unit: "short",
      }),
    )
    .withPanel(
      st({
        title: "Open incidents",
        description: "SLO incidents open now (controller_open_incidents).",
        queries: [{ expr: "max(controller_open_incidents)", legend: "open" }],
        unit: "short",
      }),
    )
    .withPanel(
      st({
        title: "Faults live",
        description: "Faults whose effect is live now, as the controller's last step saw them.",
        queries: [{ expr: "max(controller_faults_live)", legend: "live" }],
        unit: "short",
      }),
    )
    .withPanel(
      st({
        title: "Recoveries",
        description: "SLO recoveries in the range (controller_events_total{kind=recovered}).",
        queries: [{ expr: 'sum(increase(controller_events_total{kind="recovered"}[$__range]))', legend: "recoveries" }],
        unit: "short",
      }),
    )
    .withPanel(
      st({
        title: "Controller up",
        description: "Time since the controller process started.",
        queries: [{ expr: "time() - max(controller_process_start_time_seconds)", legend: "uptime" }],
        unit: "s",
      }),
    )
    .withPanel(
      ts({
        title: "Latency",
        description: "Service requests' p50 and p95 latency (the SLO's latency is the p95), ms.",
        queries: [
          {
            expr: `1000 * histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{${HTTP}}${RATE})))`,
            legend: "p95",
          },
          {
            expr: `1000 * histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{${HTTP}}${RATE})))`,
            legend: "p50",
          },
        ],
        unit: "ms",
        min: 0,
      }),
    )
    .withPanel(
      ts({
        title: "Error rate",
        description: "Share of service requests answered 5xx (or not at all, by the ingress).",
        queries: [
          {
            expr: `1 - sum(rate(http_requests_total{${HTTP},code!~"5.."}${RATE})) / sum(rate(http_requests_total{${HTTP}}${RATE}))`,
            legend: "errors",
          },
        ],
        unit: "percentunit",
        min: 0,
      }),
    )
    .withPanel(
      ts({
        title: "Request rate",
        description: "Service requests per second, by status code.",
        queries: [{ expr: `sum by (code) (rate(http_requests_total{${HTTP}}${RATE}))`, legend: "{{code}}" }],
        unit: "reqps",
        min: 0,
      }),
    )
    .withPanel(
      ts({
        title: "Replicas",
        description: "kube-state-metrics: desired (spec) and ready replicas of the Deployment.",
        queries: [
          { expr: `max(kube_deployment_spec_replicas{${DEPLOYMENT}})`, legend: "desired" },
          { expr: `max(kube_deployment_status_replicas_ready{${DEPLOYMENT}})`, legend: "ready" },
        ],
        unit: "short",
        min: 0,
      }),
    )
    .withPanel(
      ts({
        title: "CPU per pod",
        description: "cAdvisor: CPU used over the CPU limit (CFS quota / period), per pod.",
        queries: [
          {
            expr: `sum by (pod) (rate(container_cpu_usage_seconds_total{${CONTAINER}}${RATE})) / (sum by (pod) (container_spec_cpu_quota{${CONTAINER}} / container_spec_cpu_period{${CONTAINER}}) > 0)`,
            legend: "{{pod}}",
          },
        ],
        unit: "percentunit",
        min: 0,
      }),
    )
    .withPanel(
      ts({
        title: "Memory per pod",
        description: "cAdvisor: working set over the memory limit, per pod.",
        queries: [
          {
            expr: `sum by (pod) (container_memory_working_set_bytes{${CONTAINER}}) / (sum by (pod) (container_spec_memory_limit_bytes{${CONTAINER}}) > 0)`,
            legend: "{{pod}}",
          },
        ],
        unit: "percentunit",
        min: 0,
      }),
    )
    .withPanel(
      ts({
        title: "Container restarts",
        description: "kube-state-metrics: container restarts (crashes, OOM kills) per pod.",
        queries: [{ expr: `sum by (pod) (kube_pod_container_status_restarts_total{${POD}})`, legend: "{{pod}}" }],
        unit: "short",
        min: 0,
        width: 12,
      }),
    )
    .withPanel(
      ts({
        title: "SLO health",
        description: "1 while the SLO holds, else 1 / SLO pressure (0 with no ready replica).",
        queries: [{ expr: "controller_slo_health", legend: "health" }],
        unit: "short",
        min: 0,
        max: 1,
        width: 12,
      }),
    )
    .withRow(new RowBuilder("Controller: decisions, guard, chaos").id(101))
    .withPanel(
      ts({
        title: "Decisions",
        description: "The policy's (or agent's) proposals per observation, by proposed action.",
        queries: [{ expr: `sum by (proposed) (increase(controller_decisions_total${RATE}))`, legend: "{{proposed}}" }],
        unit: "short",
        min: 0,
      }),
    )
    .withPanel(
      ts({
        title: "Actions per hour",
        description: "Actions the backend executed over the last hour, by action.",
        queries: [{ expr: "sum by (action) (increase(controller_actions_total[1h]))", legend: "{{action}}" }],
        unit: "short",
        min: 0,
      }),
    )
    .withPanel(
      ts({
        title: "Guard refusals",
        description: "Proposals the guard did not let through, by reason.",
        queries: [{ expr: `sum by (reason) (increase(controller_guard_refusals_total${RATE}))`, legend: "{{reason}}" }],
        unit: "short",
        min: 0,
      }),
    )
    .withPanel(
      ts({
        title: "Reward",
        description: "Reward of each transition, and its 5-minute mean.",
        queries: [
          { expr: "controller_reward", legend: "reward" },
          { expr: "avg_over_time(controller_reward[5m])", legend: "5 min mean" },
        ],
        unit: "short",
      }),
    )
    .withPanel(
      ts({
        title: "Agent confidence",
        description: "Confidence of the last decision, 0..1.",
        queries: [{ expr: "controller_agent_confidence", legend: "confidence" }],
        unit: "percentunit",
        min: 0,
        max: 1,
      }),
    )
    .withPanel(
      ts({
        title: "Recovery time",
        description: "Time from an SLO breach to the window in which it held again: median and p95 over the last hour.",
        queries: [
          {
            expr: "histogram_quantile(0.5, sum by (le) (increase(controller_recovery_seconds_bucket[1h])))",
            legend: "p50",
          },
          {
            expr: "histogram_quantile(0.95, sum by (le) (increase(controller_recovery_seconds_bucket[1h])))",
            legend: "p95",
          },
        ],
        unit: "s",
        min: 0,
      }),
    )
    .withPanel(
      ts({
        title: "Chaos experiments",
        description: "Faults the chaos loop injected over the last hour, by fault type.",
        queries: [{ expr: "sum by (fault) (increase(controller_chaos_experiments_total[1h]))", legend: "{{fault}}" }],
        unit: "short",
        min: 0,
      }),
    )
    .withPanel(
      ts({
        title: "Loop events",
        description: "Loop and backend events by kind (breaches, recoveries, faults, pod restarts, ...).",
        queries: [{ expr: `sum by (kind) (increase(controller_events_total${RATE}))`, legend: "{{kind}}" }],
        unit: "short",
        min: 0,
      }),
    )
    .withPanel(
      ts({
        title: "Controller state",
        description: "Paused (1) or not, approval requests open, batches the trace store refused.",
        queries: [
          { expr: "max(controller_paused)", legend: "paused" },
          { expr: "max(controller_pending_approvals)", legend: "pending approvals" },
          { expr: "sum(controller_store_errors_total)", legend: "store errors" },
        ],
        unit: "short",
        min: 0,
      }),
    )
    .build();
}

function agentDashboard(): Dashboard {
  let id = 0;
  const ts = (p: PanelSpec) => timeseries(++id, p);
  const st = (p: PanelSpec) => stat(++id, p);
  const requests = "agent_request_duration_seconds";
  return new DashboardBuilder("chaos-rl: agent service")
    .uid("chaos-rl-agent")
    .description("The RL agent service (harness agent serve): load, latency, errors, decisions and the model served.")
    .tags(["chaos-rl"])
    .refresh("10s")
    .time({ from: "now-30m", to: "now" })
    .timezone("utc")
    .withPanel(
      st({
        title: "Decisions/s",
        description: "Decisions returned per second (a batch counts each state).",
        queries: [{ expr: `sum(rate(agent_decisions_total${RATE}))`, legend: "decisions/s" }],
        unit: "short",
      }),
    )
    .withPanel(
      st({
        title: "p99 latency",
        description: "p99 of the time from request to response, every route.",
        queries: [
          {
            expr: `1000 * histogram_quantile(0.99, sum by (le) (rate(${requests}_bucket${RATE})))`,
            legend: "p99",
          },
        ],
        unit: "ms",
      }),
    )
    .withPanel(
      st({
        title: "Model",
        description: "The model being served: its codec and sha256 (agent_model_info).",
        queries: [{ expr: "max by (codec, sha256) (agent_model_info)", legend: "{{codec}} {{sha256}}" }],
        unit: "short",
        showName: true,
        width: 8,
      }),
    )
    .withPanel(
      st({
        title: "Agent up",
        description: "Time since the agent process started.",
        queries: [{ expr: "time() - max(agent_process_start_time_seconds)", legend: "uptime" }],
        unit: "s",
        width: 8,
      }),
    )
    .withPanel(
      ts({
        title: "Requests per second",
        description: "Requests answered per second, by route and status.",
        queries: [{ expr: `sum by (route, status) (rate(${requests}_count${RATE}))`, legend: "{{route}} {{status}}" }],
        unit: "reqps",
        min: 0,
      }),
    )
    .withPanel(
      ts({
        title: "Latency by route",
        description: "p50 and p99 of the time from request to response, per route, ms.",
        queries: [
          {
            expr: `1000 * histogram_quantile(0.5, sum by (le, route) (rate(${requests}_bucket${RATE})))`,
            legend: "p50 {{route}}",
          },
          {
            expr: `1000 * histogram_quantile(0.99, sum by (le, route) (rate(${requests}_bucket${RATE})))`,
            legend: "p99 {{route}}",
          },
        ],
        unit: "ms",
        min: 0,
      }),
    )
    .withPanel(
      ts({
        title: "Error share",
        description: "Share of requests answered 4xx or 5xx (bad input refused, or a failure).",
        queries: [
          {
            expr: `1 - sum(rate(${requests}_count{status!~"[45].."}${RATE})) / sum(rate(${requests}_count${RATE}))`,
            legend: "errors",
          },
        ],
        unit: "percentunit",
        min: 0,
      }),
    )
    .withPanel(
      ts({
        title: "Decisions by action",
        description: "Decisions returned per second, by action.",
        queries: [{ expr: `sum by (action) (rate(agent_decisions_total${RATE}))`, legend: "{{action}}" }],
        unit: "short",
        min: 0,
      }),
    )
    .withPanel(
      ts({
        title: "CPU",
        description: "CPU seconds per second of the agent process.",
        queries: [{ expr: `rate(agent_process_cpu_seconds_total${RATE})`, legend: "cpu" }],
        unit: "percentunit",
        min: 0,
      }),
    )
    .withPanel(
      ts({
        title: "Memory",
        description: "Resident memory of the agent process, and its V8 heap in use.",
        queries: [
          { expr: "agent_process_resident_memory_bytes", legend: "resident" },
          { expr: "agent_nodejs_heap_size_used_bytes", legend: "heap used" },
        ],
        unit: "bytes",
        min: 0,
      }),
    )
    .build();
}

function trainingDashboard(): Dashboard {
  let id = 0;
  const ts = (p: PanelSpec) => timeseries(++id, p);
  const st = (p: PanelSpec) => stat(++id, p);
  return new DashboardBuilder("chaos-rl: PPO training")
    .uid("chaos-rl-training")
    .description("harness train --metrics-port P: the curve while it is drawn, one series per run_id.")
    .tags(["chaos-rl"])
    .refresh("10s")
    .time({ from: "now-1h", to: "now" })
    .timezone("utc")
    .withPanel(
      st({
        title: "Environment steps",
        description: "Environment steps trained (ppo_global_step_total).",
        queries: [{ expr: "max by (run_id) (ppo_global_step_total)", legend: "{{run_id}}" }],
        unit: "short",
        width: 6,
      }),
    )
    .withPanel(
      st({
        title: "Updates",
        description: "PPO updates completed (ppo_updates_total).",
        queries: [{ expr: "max by (run_id) (ppo_updates_total)", legend: "{{run_id}}" }],
        unit: "short",
        width: 6,
      }),
    )
    .withPanel(
      st({
        title: "Steps per second",
        description: "Environment steps per second over the range, optimisation included.",
        queries: [{ expr: "sum by (run_id) (rate(ppo_global_step_total[$__range]))", legend: "{{run_id}}" }],
        unit: "short",
        width: 6,
      }),
    )
    .withPanel(
      st({
        title: "Trainer memory",
        description: "Resident memory of the training process.",
        queries: [{ expr: "max by (run_id) (ppo_process_resident_memory_bytes)", legend: "{{run_id}}" }],
        unit: "bytes",
        width: 6,
      }),
    )
    .withPanel(
      ts({
        title: "Episode reward",
        description: "Mean, lowest and highest episode return of each update's rollout.",
        queries: [
          { expr: "ppo_episode_reward_mean", legend: "mean {{run_id}}" },
          { expr: "ppo_episode_reward_min", legend: "min {{run_id}}" },
          { expr: "ppo_episode_reward_max", legend: "max {{run_id}}" },
        ],
        unit: "short",
        width: 12,
      }),
    )
    .withPanel(
      ts({
        title: "Losses",
        description: "Clipped surrogate (policy) loss and value loss of the last update.",
        queries: [
          { expr: "ppo_policy_loss", legend: "policy {{run_id}}" },
          { expr: "ppo_value_loss", legend: "value {{run_id}}" },
        ],
        unit: "short",
        width: 12,
      }),
    )
    .withPanel(
      ts({
        title: "Entropy",
        description: "Policy entropy (falls as the policy grows sure).",
        queries: [{ expr: "ppo_entropy", legend: "{{run_id}}" }],
        unit: "short",
      }),
    )
    .withPanel(
      ts({
        title: "KL and clipping",
        description: "Approximate KL(pi_old || pi) and the share of samples with a clipped ratio.",
        queries: [
          { expr: "ppo_approx_kl", legend: "approx KL {{run_id}}" },
          { expr: "ppo_clip_fraction", legend: "clip fraction {{run_id}}" },
        ],
        unit: "short",
      }),
    )
    .withPanel(
      ts({
        title: "Steps per second (fps)",
        description: "Environment steps per second of the last update, and over the rate window.",
        queries: [
          { expr: "ppo_steps_per_second", legend: "last update {{run_id}}" },
          { expr: `rate(ppo_global_step_total${RATE})`, legend: "rate {{run_id}}" },
        ],
        unit: "short",
        min: 0,
      }),
    )
    .withPanel(
      ts({
        title: "SLO held and guard refusals",
        description: "Share of rollout steps with the SLO held, and with the guard refusing the proposal.",
        queries: [
          { expr: "ppo_slo_held_share", legend: "SLO held {{run_id}}" },
          { expr: "ppo_guard_refused_share", legend: "refused {{run_id}}" },
        ],
        unit: "percentunit",
        min: 0,
        max: 1,
      }),
    )
    .withPanel(
      ts({
        title: "Action mix",
        description: "Share of each action among the policy's proposals.",
        queries: [{ expr: 'ppo_action_share{kind="proposed"}', legend: "{{action}} {{run_id}}" }],
        unit: "percentunit",
        min: 0,
        max: 1,
      }),
    )
    .withPanel(
      ts({
        title: "Value function",
        description: "Explained variance of the value function (1 is perfect).",
        queries: [{ expr: "ppo_explained_variance", legend: "{{run_id}}" }],
        unit: "short",
      }),
    )
    .build();
}

/** Every dashboard, by its file name in cluster/grafana/. */
export function buildDashboards(): Record<string, Dashboard> {
  return {
    "controller.json": controllerDashboard(),
    "agent.json": agentDashboard(),
    "training.json": trainingDashboard(),
  };
}

/** The file's text: stable key order as built, two-space indent, final newline. */
export function dashboardText(d: Dashboard): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}
