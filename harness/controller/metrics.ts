/**
 * The controller's `/metrics` (prom-client), fed as the loop's sink: what it decided and
 * why, what the guard refused, how fast the service recovered, how healthy it is now, and
 * the service's own observed values (so that a dashboard has them on any backend).
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { ACTION_NAMES, Action, type Slo } from "../core/contract.ts";
import { GuardReason } from "../core/guard.ts";
import type { EpisodeSink, LoopEvent, StepRecord } from "../loop.ts";
import { sloPressure } from "../loop.ts";

/** Event kinds whose counters exist from the start (the dashboards' annotations and counts). */
const COUNTED_EVENTS = ["slo-breached", "recovered", "fault-injected", "fault-cleared", "action-executed"] as const;

export class ControllerMetrics implements EpisodeSink {
  readonly registry = new Registry();
  private readonly decisions: Counter;
  private readonly actions: Counter;
  private readonly refusals: Counter;
  private readonly recovery: Histogram;
  private readonly health: Gauge;
  private readonly confidence: Gauge;
  private readonly confidenceHist: Histogram;
  private readonly reward: Gauge;
  private readonly rewardTotal: Counter;
  private readonly chaos: Counter;
  private readonly incidents: Gauge;
  private readonly faultsLive: Gauge;
  private readonly events: Counter;
  private readonly observed: Gauge;
  private readonly steps: Counter;
  readonly paused: Gauge;
  readonly pendingApprovals: Gauge;
  readonly storeBacklog: Gauge;
  readonly storeErrors: Counter;
  private breachedAt: number | null = null;

  constructor(
    private readonly slo: Slo,
    labels: { readonly name: string; readonly mode: string; readonly policy: string; readonly backend: string },
  ) {
    const r = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "controller_" });
    new Gauge({
      name: "controller_info",
      help: "The controller's configuration (value 1)",
      labelNames: ["name", "mode", "policy", "backend"],
      registers: r,
    }).set(labels, 1);
    this.steps = new Counter({ name: "controller_steps_total", help: "Loop steps recorded", registers: r });
    this.decisions = new Counter({
      name: "controller_decisions_total",
      help: "Decisions by proposed action and guard reason",
      labelNames: ["proposed", "reason"],
      registers: r,
    });
    this.actions = new Counter({
      name: "controller_actions_total",
      help: "Actions executed by the backend, by action and guard reason",
      labelNames: ["action", "reason"],
      registers: r,
    });
    this.refusals = new Counter({
      name: "controller_guard_refusals_total",
      help: "Proposals the guard did not let through, by reason",
      labelNames: ["reason"],
      registers: r,
    });
    this.recovery = new Histogram({
      name: "controller_recovery_seconds",
      help: "Time from an SLO breach to the start of the window in which it held again",
      buckets: [5, 10, 20, 30, 60, 120, 300, 600, 1800],
      registers: r,
    });
    this.health = new Gauge({
      name: "controller_slo_health",
      help: "SLO health score, 0..1: 1 while the SLO holds, else 1 / SLO pressure (0 with no ready replica)",
      registers: r,
    });
    this.confidence = new Gauge({
      name: "controller_agent_confidence",
      help: "Confidence of the last decision, 0..1",
      registers: r,
    });
    this.confidenceHist = new Histogram({
      name: "controller_agent_confidence_dist",
      help: "Confidence of decisions",
      buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
      registers: r,
    });
    this.reward = new Gauge({ name: "controller_reward", help: "Reward of the last transition", registers: r });
    this.rewardTotal = new Counter({
      name: "controller_reward_sum_total",
      help: "Sum of rewards (counter: negative rewards are added as their own counter below)",
      labelNames: ["sign"],
      registers: r,
    });
    this.chaos = new Counter({
      name: "controller_chaos_experiments_total",
      help: "Faults the chaos loop injected, by fault type",
      labelNames: ["fault"],
      registers: r,
    });
    this.incidents = new Gauge({
      name: "controller_open_incidents",
      help: "SLO incidents open now (0 or 1 for one deployment)",
      registers: r,
    });
    this.faultsLive = new Gauge({
      name: "controller_faults_live",
      help: "Faults whose effect is live at the last step (the loop's live spans)",
      registers: r,
    });
    this.events = new Counter({
      name: "controller_events_total",
      help: "Loop and backend events by kind (recovered, regression, fault-injected, ...)",
      labelNames: ["kind"],
      registers: r,
    });
    this.observed = new Gauge({
      name: "controller_observed",
      help: "The last observation of the service, by metric (cpu and memory 0..1, latency_ms p95, error_rate 0..1, request_rate rps, replicas)",
      labelNames: ["metric"],
      registers: r,
    });
    this.paused = new Gauge({ name: "controller_paused", help: "1 while paused", registers: r });
    this.pendingApprovals = new Gauge({
      name: "controller_pending_approvals",
      help: "Approval requests open",
      registers: r,
    });
    this.storeBacklog = new Gauge({
      name: "controller_store_backlog_batches",
      help: "Batches waiting for the trace store",
      registers: r,
    });
    this.storeErrors = new Counter({
      name: "controller_store_errors_total",
      help: "Batches the trace store refused (kept and retried)",
      registers: r,
    });
    // Every refusal reason, every action and the events the dashboards count exist from the
    // start (at 0): a panel shows zero, not "No data", and increase() sees the first event
    // (a counter that appears at 1 has no earlier sample to grow from).
    for (const reason of Object.values(GuardReason)) {
      if (reason !== "Allowed" && reason !== "Noop") this.refusals.inc({ reason }, 0);
    }
    for (const action of ACTION_NAMES.slice(1)) this.actions.inc({ action, reason: GuardReason.Allowed }, 0);
    for (const kind of COUNTED_EVENTS) this.events.inc({ kind }, 0);
  }

  /** The chaos loop's fault types, each at 0 until injected (see the constructor). */
  chaosConfigured(faults: readonly string[]): void {
    for (const fault of faults) this.chaos.inc({ fault }, 0);
  }

  onStep(rec: StepRecord): void {
    const s = rec.snapshot;
    this.steps.inc();
    const proposed = ACTION_NAMES[rec.proposed];
    this.decisions.inc({ proposed, reason: rec.reason });
    if (rec.applied) this.actions.inc({ action: ACTION_NAMES[rec.executed], reason: rec.reason });
    if (rec.proposed !== Action.Noop && rec.executed === Action.Noop) this.refusals.inc({ reason: rec.reason });
    const pressure = sloPressure(s, this.slo);
    this.health.set(rec.sloOk ? 1 : Number.isFinite(pressure) && pressure > 0 ? Math.min(1, 1 / pressure) : 0);
    this.confidence.set(rec.confidence);
    this.confidenceHist.observe(rec.confidence);
    this.reward.set(rec.reward);
    this.faultsLive.set(rec.activeFaults);
    if (rec.reward >= 0) this.rewardTotal.inc({ sign: "positive" }, rec.reward);
    else this.rewardTotal.inc({ sign: "negative" }, -rec.reward);
    if (s.missing === 0) {
      this.observed.set({ metric: "cpu" }, s.cpu);
      this.observed.set({ metric: "memory" }, s.memory);
      this.observed.set({ metric: "latency_ms" }, s.latencyMs);
      this.observed.set({ metric: "error_rate" }, s.errorRate);
      this.observed.set({ metric: "request_rate" }, s.requestRate);
    }
    this.observed.set({ metric: "desired_replicas" }, s.desiredReplicas);
    this.observed.set({ metric: "ready_replicas" }, s.readyReplicas);
    this.observed.set({ metric: "missing" }, s.missing === 0 ? 0 : 1);
  }

  onEvent(e: LoopEvent): void {
    this.events.inc({ kind: e.kind });
    if (e.kind === "slo-breached") {
      this.breachedAt = e.time;
      this.incidents.set(1);
    } else if (e.kind === "recovered") {
      if (this.breachedAt !== null) this.recovery.observe(Math.max(0, e.time - this.breachedAt));
      this.breachedAt = null;
      this.incidents.set(0);
    }
  }

  chaosInjected(fault: string): void {
    this.chaos.inc({ fault });
  }

  /** Whether an incident is open now (the chaos loop's stop condition). */
  get incidentOpen(): boolean {
    return this.breachedAt !== null;
  }
}
