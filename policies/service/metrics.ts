/**
 * The agent service's Prometheus metrics, on a registry of its own (so that two services
 * in one process, as in tests, never share counters):
 *
 *   agent_request_duration_seconds{method,route,status}  histogram, request latency
 *   agent_decisions_total{action}                         counter, decisions by action name
 *   agent_model_info{sha256,codec,file}                   gauge, 1 for the model being served
 *   process and Node.js metrics (prom-client defaults, prefixed agent_)
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { ACTION_NAMES } from "../../harness/core/contract.ts";

export interface ServiceMetrics {
  readonly registry: Registry;
  readonly requestDuration: Histogram<"method" | "route" | "status">;
  /** One child per action id, resolved once: the hot path does no label lookup. */
  readonly decisionsByAction: readonly { inc(n?: number): void }[];
  readonly modelInfo: Gauge<"sha256" | "codec" | "file">;
}

export function createServiceMetrics(options: { readonly defaultMetrics?: boolean } = {}): ServiceMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "agent_" });
  const requestDuration = new Histogram({
    name: "agent_request_duration_seconds",
    help: "Time from request to response, by route and status.",
    labelNames: ["method", "route", "status"] as const,
    // Sub-millisecond buckets: a decision costs tens of microseconds, the target p99 is 2 ms.
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const decisions = new Counter({
    name: "agent_decisions_total",
    help: "Decisions returned, by action (a batch counts each state).",
    labelNames: ["action"] as const,
    registers: [registry],
  });
  const modelInfo = new Gauge({
    name: "agent_model_info",
    help: "The model being served (value 1).",
    labelNames: ["sha256", "codec", "file"] as const,
    registers: [registry],
  });
  return {
    registry,
    requestDuration,
    decisionsByAction: ACTION_NAMES.map((action) => decisions.labels({ action })),
    modelInfo,
  };
}
