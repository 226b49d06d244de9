/**
 * Live training metrics for Prometheus: `harness train --metrics-port 9400` serves
 * `/metrics` (prom-client's text format) while training, so a Prometheus/Grafana pair can
 * watch the curve as it is drawn. Counters for what counts (`ppo_global_step_total`,
 * `ppo_updates_total`: rate() of the first is the training's steps per second), one gauge per
 * other metric of `UpdateMetrics`, updated after every update, the action mix labelled by
 * action name, and the process's own metrics (`ppo_process_*`, `ppo_nodejs_*`).
 * cluster/grafana/training.json reads them.
 */
import { createServer, type Server } from "node:http";
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { ACTION_NAMES } from "../../harness/core/contract.ts";
import type { UpdateMetrics } from "./train.ts";

type ScalarKey = {
  [K in keyof UpdateMetrics]: UpdateMetrics[K] extends number | null ? K : never;
}[keyof UpdateMetrics];

/** The scalars that only grow: counters. */
type CountKey = "update" | "globalStep";

/** Counter name and help per counting metric. */
const COUNTERS: { readonly [K in CountKey]: readonly [string, string] } = {
  update: ["ppo_updates_total", "Updates completed (a resumed run starts from the checkpoint's count)."],
  globalStep: [
    "ppo_global_step_total",
    "Environment steps trained (a resumed run starts from the checkpoint's count).",
  ],
};

/** Gauge name and help per other scalar metric (every scalar of UpdateMetrics has a counter or a gauge). */
const GAUGES: { readonly [K in Exclude<ScalarKey, CountKey>]: readonly [string, string] } = {
  wallTimeS: ["ppo_wall_time_seconds", "Wall time since the run started."],
  stepsPerS: ["ppo_steps_per_second", "Env steps per second of the last update, optimisation included."],
  learningRate: ["ppo_learning_rate", "Adam step size of the last update."],
  episodes: ["ppo_episodes", "Episodes finished in the last rollout."],
  epRewardMean: ["ppo_episode_reward_mean", "Mean episode return of the last rollout."],
  epRewardMin: ["ppo_episode_reward_min", "Lowest episode return of the last rollout."],
  epRewardMax: ["ppo_episode_reward_max", "Highest episode return of the last rollout."],
  epLengthMean: ["ppo_episode_length_mean", "Mean episode length of the last rollout, steps."],
  sloHeldShare: ["ppo_slo_held_share", "Share of rollout steps with the SLO held."],
  recoveryTimeMeanS: ["ppo_recovery_time_seconds", "Mean time from a fault to the SLO holding again."],
  recoveries: ["ppo_recoveries", "Recoveries measured in the last rollout."],
  replicasMean: ["ppo_replicas_mean", "Mean desired replicas over the last rollout."],
  refusedShare: ["ppo_guard_refused_share", "Share of steps where the guard refused the proposal."],
  policyLoss: ["ppo_policy_loss", "Clipped surrogate loss."],
  valueLoss: ["ppo_value_loss", "Value loss."],
  entropy: ["ppo_entropy", "Policy entropy."],
  approxKl: ["ppo_approx_kl", "Approximate KL(pi_old || pi)."],
  clipFrac: ["ppo_clip_fraction", "Share of samples with a clipped ratio."],
  explainedVariance: ["ppo_explained_variance", "Explained variance of the value function."],
  epochs: ["ppo_epochs", "Epochs run in the last update."],
};

export class TrainingMetrics {
  readonly registry = new Registry();
  private readonly gauges = new Map<Exclude<ScalarKey, CountKey>, Gauge>();
  private readonly counters = new Map<CountKey, { counter: Counter; last: number }>();
  private readonly actions: Gauge;
  private server: Server | null = null;

  constructor(runId: string) {
    this.registry.setDefaultLabels({ run_id: runId });
    collectDefaultMetrics({ register: this.registry, prefix: "ppo_" });
    for (const [key, [name, help]] of Object.entries(COUNTERS) as [CountKey, readonly [string, string]][]) {
      const counter = new Counter({ name, help, registers: [this.registry] });
      // At 0 from the start: rate() and increase() then see the first update.
      counter.inc(0);
      this.counters.set(key, { counter, last: 0 });
    }
    for (const [key, [name, help]] of Object.entries(GAUGES) as [
      Exclude<ScalarKey, CountKey>,
      readonly [string, string],
    ][]) {
      this.gauges.set(key, new Gauge({ name, help, registers: [this.registry] }));
    }
    this.actions = new Gauge({
      name: "ppo_action_share",
      help: "Share of each action among the policy's proposals (kind=proposed) and what the guard executed (kind=executed).",
      labelNames: ["action", "kind"],
      registers: [this.registry],
    });
  }

  record(m: UpdateMetrics): void {
    for (const [key, c] of this.counters) {
      const v = m[key];
      if (Number.isFinite(v) && v > c.last) {
        c.counter.inc(v - c.last);
        c.last = v;
      }
    }
    for (const [key, gauge] of this.gauges) {
      const v = m[key];
      if (v !== null && Number.isFinite(v)) gauge.set(v);
    }
    ACTION_NAMES.forEach((action, i) => {
      this.actions.set({ action, kind: "proposed" }, m.actionShare[i] ?? 0);
      this.actions.set({ action, kind: "executed" }, m.executedShare[i] ?? 0);
    });
  }

  /** Serves `/metrics` on `host:port` (port 0: any free port; host 0.0.0.0: every interface); resolves with the port. */
  listen(port: number, host = "127.0.0.1"): Promise<number> {
    const server = createServer((req, res) => {
      if (req.url !== "/metrics") {
        res.writeHead(404).end("Not found: try /metrics\n");
        return;
      }
      this.registry
        .metrics()
        .then((text) => res.writeHead(200, { "Content-Type": this.registry.contentType }).end(text))
        .catch((err: unknown) => res.writeHead(500).end(String(err)));
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        const addr = server.address();
        resolve(typeof addr === "object" && addr !== null ? addr.port : port);
      });
    });
  }

  close(): Promise<void> {
    const s = this.server;
    this.server = null;
    return new Promise((resolve) => (s === null ? resolve() : s.close(() => resolve())));
  }
}
