/**
 * Every PromQL expression the collector runs, in one place, with what it reads and why.
 * They are the queries a real cluster answers: kube-state-metrics (`kube_*`), the kubelet's
 * cAdvisor (`container_*`) and the service's own instrumentation (`http_*`). The local
 * testbed exports the same series with the same labels, so nothing here knows which
 * backend it runs against.
 *
 * One observation is ONE round trip: each part below is tagged with a `q` label
 * (`label_replace(expr, "q", "<part>", "", "")`) and the parts are joined with `or` (as a
 * balanced tree, see {@link observationQuery}). The tags differ, so `or` keeps every
 * element of every part, and the collector sorts the reply by `q`.
 *
 * Selectors (label values are quoted with PromQL's string escapes):
 * - deployment series: `{namespace="<ns>", deployment="<deployment>"}`;
 * - pod series: `{namespace="<ns>", pod=~"<podPattern>"}`, where the default pattern is a
 *   ReplicaSet pod name, `<deployment>-<template hash>-<suffix>`;
 * - container series additionally `container!="", container!="POD"`: cAdvisor also
 *   reports the pod-level cgroup (no container) and the pause container, which would
 *   count the same CPU twice;
 * - request series additionally `route!~"/health|/ready|/metrics"` ({@link NOT_SERVICE_ROUTES}).
 *
 * Rate window `w` (see {@link rateWindowSeconds}): `max(4 × scrape interval, step + scrape
 * interval)`. Four scrapes so that `rate()` always has at least two samples even when one
 * scrape is late or lost (Grafana's `$__rate_interval` rule); step plus one scrape so that
 * consecutive observations' windows overlap and no request between two steps goes
 * unseen. With the testbed's 1 s scrapes: 4 s for 1-3 s steps, 11 s for 10 s steps.
 *
 * Staleness: instant selectors already drop a series at the first scrape that no longer
 * has it (Prometheus writes a staleness marker, also when a target stops answering), and
 * rates need two samples inside `w`. What neither catches is a source whose samples simply
 * stop arriving (a stalled scrape loop): the `age_*` parts give the age of the newest
 * sample of each gauge family, and the collector treats a family older than its
 * `staleAfterS` as missing.
 */

/** What the collector needs to build the query. */
export interface QueryParams {
  readonly namespace: string;
  readonly deployment: string;
  /** RE2 regex (anchored by Prometheus) matching the deployment's pod names. */
  readonly podPattern: string;
  /** Rate window, seconds. */
  readonly windowS: number;
}

/**
 * The rate window for a scrape interval and an observation step, in seconds (rule in the
 * header): `max(4 × scrape, step + scrape)`.
 */
export function rateWindowSeconds(scrapeIntervalS: number, stepSeconds: number): number {
  return Math.max(4 * scrapeIntervalS, stepSeconds + scrapeIntervalS);
}

/** A ReplicaSet pod name of `deployment`: `<deployment>-<template hash>-<suffix>`. */
export function defaultPodPattern(deployment: string): string {
  return `${deployment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-[a-z0-9]+-[a-z0-9]+`;
}

/**
 * Routes that are not service traffic: the kubelet's probes and Prometheus's own scrapes.
 * Left in, they would dilute the p95 and the error rate with cheap requests at low load.
 */
export const NOT_SERVICE_ROUTES = "/health|/ready|/metrics";

/** Pod label of the deployment's drained pods: out of the Service's rotation, still running. */
export const DRAINED_LABEL = "chaos-rl/drained";
/** The same label as kube-state-metrics exports it on `kube_pod_labels` (`label_` + sanitised name). */
export const DRAINED_KSM_LABEL = "label_chaos_rl_drained";

/** Waiting reasons (kube_pod_container_status_waiting_reason) that mean the container crashed. */
export const CRASH_WAITING_REASONS: ReadonlySet<string> = new Set([
  "CrashLoopBackOff",
  "Error",
  "OOMKilled",
  "CreateContainerError",
  "CreateContainerConfigError",
  "RunContainerError",
]);

/** The parts of one observation, by the `q` tag their samples carry. */
export type QueryPart =
  | "desired"
  | "ready_replicas"
  | "age_deployment"
  | "age_pods"
  | "age_memory"
  | "pod_phase"
  | "pod_ready"
  | "pod_restarts"
  | "pod_waiting"
  | "pod_deleting"
  | "pod_drained"
  | "pod_cpu"
  | "pod_memory"
  | "pod_rps"
  | "pod_errors"
  | "unrouted_rps"
  | "unrouted_errors"
  | "pod_p95"
  | "p95";

/** Label that tags each sample with its part. */
export const PART_LABEL = "q";

function q(s: string): string {
  // PromQL string literals take Go's escapes, which JSON's are a subset of.
  return JSON.stringify(s);
}

/** Each part's expression, in evaluation order. Every per-pod part keeps only the `pod` label (plus one named label). */
export function observationParts(p: QueryParams): Record<QueryPart, string> {
  const dep = `namespace=${q(p.namespace)},deployment=${q(p.deployment)}`;
  const pod = `namespace=${q(p.namespace)},pod=~${q(p.podPattern)}`;
  const ctr = `${pod},container!="",container!="POD"`;
  const http = `${pod},route!~${q(NOT_SERVICE_ROUTES)}`;
  const unrouted = `namespace=${q(p.namespace)},pod="",route!~${q(NOT_SERVICE_ROUTES)}`;
  const w = `${Math.round(p.windowS * 1000)}ms`;
  return {
    // kube-state-metrics, Deployment: `spec.replicas` and `status.readyReplicas`.
    desired: `max(kube_deployment_spec_replicas{${dep}})`,
    ready_replicas: `max(kube_deployment_status_replicas_ready{${dep}})`,
    // Age in seconds of the newest sample of each gauge family (staleness, see header).
    age_deployment: `time() - max(timestamp(kube_deployment_spec_replicas{${dep}}))`,
    age_pods: `time() - max(timestamp(kube_pod_status_phase{${pod}}))`,
    age_memory: `time() - max(timestamp(container_memory_working_set_bytes{${ctr}}))`,
    // kube-state-metrics, per pod. The pods of the deployment are those with a phase:
    // the one phase series whose value is 1 names it (Pending, Running, Succeeded, Failed, Unknown).
    pod_phase: `max by (pod, phase) (kube_pod_status_phase{${pod}} == 1)`,
    // The Ready condition: 1 ready, 0 not.
    pod_ready: `max by (pod) (kube_pod_status_ready{${pod},condition="true"})`,
    // Container restarts so far (the kubelet's restarts and OOM kills).
    pod_restarts: `sum by (pod) (kube_pod_container_status_restarts_total{${pod}})`,
    // Why a container is waiting (CrashLoopBackOff, ContainerCreating, ...). Absent for most pods.
    pod_waiting: `max by (pod, reason) (kube_pod_container_status_waiting_reason{${pod}} == 1)`,
    // Present while the pod is being deleted (graceful termination).
    pod_deleting: `max by (pod) (kube_pod_deletion_timestamp{${pod}})`,
    // Drained pods carry the pod label chaos-rl/drained=true (the Service selects pods without it).
    pod_drained: `max by (pod) (kube_pod_labels{${pod},${DRAINED_KSM_LABEL}="true"})`,
    // Seed formula: CPU = rate(container_cpu_usage_seconds_total[w]) over the CPU limit, per pod.
    // The limit is cAdvisor's CFS quota over period (what the cgroup enforces), else
    // kube-state-metrics' spec limit in cores.
    pod_cpu:
      `sum by (pod) (rate(container_cpu_usage_seconds_total{${ctr}}[${w}]))` +
      ` / (sum by (pod) (container_spec_cpu_quota{${ctr}} / container_spec_cpu_period{${ctr}}) > 0` +
      ` or sum by (pod) (kube_pod_container_resource_limits{${pod},resource="cpu"}))`,
    // Seed formula: memory = working set over limit (cAdvisor; a limit of 0 means none), per pod.
    pod_memory:
      `sum by (pod) (container_memory_working_set_bytes{${ctr}})` +
      ` / (sum by (pod) (container_spec_memory_limit_bytes{${ctr}}) > 0` +
      ` or sum by (pod) (kube_pod_container_resource_limits{${pod},resource="memory"}))`,
    // Requests per second each pod served, and the 5xx among them. The collector divides
    // (error rate = 5xx rate over total rate) so that a pod without any 5xx series reads 0, not absent.
    pod_rps: `sum by (pod) (rate(http_requests_total{${http}}[${w}]))`,
    pod_errors: `sum by (pod) (rate(http_requests_total{${http},code=~"5.."}[${w}]))`,
    // Requests no pod received: the Service had no ready endpoint (the testbed's balancer
    // answers 503 with no pod label). They are offered load and failures all the same.
    // Usually absent on a cluster, whose ingress metrics have other names.
    unrouted_rps: `sum(rate(http_requests_total{${unrouted}}[${w}]))`,
    unrouted_errors: `sum(rate(http_requests_total{${unrouted},code=~"5.."}[${w}]))`,
    // Seed formula: p95 latency from the histogram, per pod (for degraded and the target
    // ranking) and over the whole service (the Snapshot's latency). NaN when no request
    // landed in the window.
    pod_p95: `histogram_quantile(0.95, sum by (pod, le) (rate(http_request_duration_seconds_bucket{${http}}[${w}])))`,
    p95: `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{${http}}[${w}])))`,
  };
}

/**
 * The one query of an observation: every part tagged with `q` and joined with `or`, as a
 * balanced tree. `or` hashes the label sets of both sides, so a left-deep chain of 17
 * parts re-hashes the growing left side 16 times: measured here, the chain took 8.3-8.7 ms
 * of evaluation (p50) where the parts alone took 5.8 ms; the tree took 5.6-6.2 ms.
 */
export function observationQuery(p: QueryParams): string {
  const tagged = Object.entries(observationParts(p)).map(
    ([part, expr]) => `label_replace(${expr}, ${q(PART_LABEL)}, ${q(part)}, "", "")`,
  );
  const tree = (xs: readonly string[]): string => {
    if (xs.length === 1) return xs[0]!;
    const mid = xs.length >> 1;
    return `(${tree(xs.slice(0, mid))}\nor ${tree(xs.slice(mid))})`;
  };
  return tree(tagged);
}
