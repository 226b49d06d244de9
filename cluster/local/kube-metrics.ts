/**
 * The series a cluster's kube-state-metrics and the kubelet's cAdvisor would expose for the
 * testbed's deployment, with the same names and labels (`namespace`, `pod`, `container`,
 * `uid`), so the PromQL collector runs the queries it would run on a real cluster.
 *
 * Rendered by hand in the text exposition format: prom-client's counters cannot be *set*
 * to a value read elsewhere (a cgroup's CPU time, a restart count), and every value here is
 * read at scrape time, as the real exporters do.
 *
 * kube-state-metrics: kube_deployment_spec_replicas, kube_deployment_status_replicas,
 * kube_deployment_status_replicas_ready, kube_deployment_status_replicas_available,
 * kube_pod_info, kube_pod_labels (label_chaos_rl_drained="true" marks a drained pod, whose traffic
 * label was removed), kube_pod_created, kube_pod_deletion_timestamp, kube_pod_status_phase,
 * kube_pod_status_ready, kube_pod_container_status_ready, kube_pod_container_status_running,
 * kube_pod_container_status_waiting_reason, kube_pod_container_status_last_terminated_reason,
 * kube_pod_container_status_restarts_total, kube_pod_container_resource_limits.
 * cAdvisor: container_cpu_usage_seconds_total, container_memory_working_set_bytes,
 * container_spec_memory_limit_bytes, container_spec_cpu_quota, container_spec_cpu_period.
 */
import type { Pod, Supervisor } from "./supervisor.ts";

type Labels = Record<string, string>;

class Exposition {
  private readonly lines: string[] = [];
  private family(name: string, type: "gauge" | "counter", help: string): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  }
  metric(name: string, type: "gauge" | "counter", help: string, samples: readonly [Labels, number][]): void {
    this.family(name, type, help);
    for (const [labels, value] of samples) this.lines.push(`${name}${fmtLabels(labels)} ${fmtValue(value)}`);
  }
  text(): string {
    return `${this.lines.join("\n")}\n`;
  }
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function fmtLabels(l: Labels): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function fmtValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  return String(v);
}

export const POD_PHASES = ["Pending", "Running", "Succeeded", "Failed", "Unknown"] as const;

/** kube-state-metrics' phase: Pending until the container has first run, then Running. */
export function podPhase(p: Pod): (typeof POD_PHASES)[number] {
  return p.started ? "Running" : "Pending";
}

function safeRead(f: () => number): number {
  try {
    return f();
  } catch {
    return Number.NaN;
  }
}

/** kube-state-metrics' view of the deployment and its pods. */
export function renderKubeStateMetrics(s: Supervisor): string {
  const { namespace, name: deployment } = s.spec;
  const container = deployment;
  const pods = s.all();
  const live = s.list();
  const e = new Exposition();
  const dep = { namespace, deployment };
  const podL = (p: Pod): Labels => ({ namespace, pod: p.name, uid: p.uid });
  const ctrL = (p: Pod): Labels => ({ namespace, pod: p.name, uid: p.uid, container });
  e.metric("kube_deployment_spec_replicas", "gauge", "Number of desired pods for a deployment.", [
    [dep, s.desiredReplicas],
  ]);
  e.metric("kube_deployment_status_replicas", "gauge", "The number of replicas per deployment.", [[dep, live.length]]);
  e.metric("kube_deployment_status_replicas_ready", "gauge", "The number of ready replicas per deployment.", [
    [dep, live.filter((p) => p.ready).length],
  ]);
  e.metric("kube_deployment_status_replicas_available", "gauge", "The number of available replicas per deployment.", [
    [dep, live.filter((p) => p.ready).length],
  ]);
  e.metric(
    "kube_pod_info",
    "gauge",
    "Information about pod.",
    pods.map((p) => [
      { ...podL(p), host_ip: "127.0.0.1", pod_ip: "127.0.0.1", node: "local", created_by_kind: "ReplicaSet" },
      1,
    ]),
  );
  e.metric(
    "kube_pod_labels",
    "gauge",
    "Kubernetes labels converted to Prometheus labels.",
    pods.map((p) => [{ ...podL(p), label_app: deployment, label_chaos_rl_drained: p.drained ? "true" : "false" }, 1]),
  );
  e.metric(
    "kube_pod_created",
    "gauge",
    "Unix creation timestamp.",
    pods.map((p) => [podL(p), Math.floor(p.createdAt / 1000)]),
  );
  e.metric(
    "kube_pod_deletion_timestamp",
    "gauge",
    "Unix deletion timestamp.",
    pods.filter((p) => p.deleting).map((p) => [podL(p), Math.floor(Date.now() / 1000)]),
  );
  e.metric(
    "kube_pod_status_phase",
    "gauge",
    "The pods current phase.",
    pods.flatMap((p) =>
      POD_PHASES.map((phase): [Labels, number] => [{ ...podL(p), phase }, podPhase(p) === phase ? 1 : 0]),
    ),
  );
  e.metric(
    "kube_pod_status_ready",
    "gauge",
    "Describes whether the pod is ready to serve requests.",
    pods.flatMap((p) =>
      (["true", "false", "unknown"] as const).map((condition): [Labels, number] => [
        { ...podL(p), condition },
        (condition === "true" && p.ready) || (condition === "false" && !p.ready) ? 1 : 0,
      ]),
    ),
  );
  e.metric(
    "kube_pod_container_status_ready",
    "gauge",
    "Describes whether the containers readiness check succeeded.",
    pods.map((p) => [ctrL(p), p.ready ? 1 : 0]),
  );
  e.metric(
    "kube_pod_container_status_running",
    "gauge",
    "Describes whether the container is currently in running state.",
    pods.map((p) => [ctrL(p), p.container === "running" ? 1 : 0]),
  );
  e.metric(
    "kube_pod_container_status_waiting_reason",
    "gauge",
    "Describes the reason the container is currently in waiting state.",
    pods.filter((p) => p.waitingReason !== null).map((p) => [{ ...ctrL(p), reason: p.waitingReason! }, 1]),
  );
  e.metric(
    "kube_pod_container_status_last_terminated_reason",
    "gauge",
    "Describes the last reason the container was in terminated state.",
    pods.filter((p) => p.lastTermination !== null).map((p) => [{ ...ctrL(p), reason: p.lastTermination! }, 1]),
  );
  e.metric(
    "kube_pod_container_status_restarts_total",
    "counter",
    "The number of container restarts per container.",
    pods.map((p) => [ctrL(p), p.restarts]),
  );
  e.metric(
    "kube_pod_container_resource_limits",
    "gauge",
    "The number of requested limit resource by a container.",
    pods.flatMap((p): [Labels, number][] => [
      [{ ...ctrL(p), node: "local", resource: "cpu", unit: "core" }, p.cgroup.limits.cpuCores],
      [{ ...ctrL(p), node: "local", resource: "memory", unit: "byte" }, p.cgroup.limits.memoryBytes],
    ]),
  );
  return e.text();
}

/** cAdvisor's view of the containers, read from their cgroups at scrape time. */
export function renderCadvisorMetrics(s: Supervisor): string {
  const { namespace, name: container } = s.spec;
  const pods = s.all().filter((p) => p.container === "running");
  const e = new Exposition();
  const l = (p: Pod): Labels => ({ namespace, pod: p.name, container, id: `/kubepods/pod${p.uid}/${container}` });
  const cpu = pods.map((p): [Labels, number] => [{ ...l(p), cpu: "total" }, safeRead(() => p.cgroup.cpuSeconds())]);
  e.metric("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds.", cpu);
  e.metric(
    "container_memory_working_set_bytes",
    "gauge",
    "Current working set in bytes.",
    pods.map((p) => [l(p), safeRead(() => p.cgroup.workingSetBytes())]),
  );
  e.metric(
    "container_spec_memory_limit_bytes",
    "gauge",
    "Memory limit for the container.",
    pods.map((p) => [l(p), p.cgroup.limits.memoryBytes]),
  );
  e.metric(
    "container_spec_cpu_quota",
    "gauge",
    "CPU quota of the container.",
    pods.map((p) => [l(p), Math.round(p.cgroup.limits.cpuCores * 100_000)]),
  );
  e.metric(
    "container_spec_cpu_period",
    "gauge",
    "CPU period of the container.",
    pods.map((p) => [l(p), 100_000]),
  );
  return e.text();
}
