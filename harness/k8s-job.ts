/**
 * `harness plan --k8s-job`: a scenario matrix as a Kubernetes Indexed Job, so a matrix 100x
 * larger than one machine runs on a cluster's nodes (issue 14, part 7). Pod k of the Job runs
 * `harness run --shard job/N`, the run command's Job form: the shard is
 * `JOB_COMPLETION_INDEX + 1` of N, read from the variable Kubernetes sets in each pod of an
 * Indexed Job (`parseShard`). Each pod writes its own DuckDB file on a shared volume
 * (`shard-<k>.duckdb`, named through Kubernetes's `$(JOB_COMPLETION_INDEX)` expansion in args);
 * a second Job, created suspended, merges them (`harness merge`) once the first is complete.
 *
 * The objects, in one YAML stream: a ConfigMap with the scenario text (every pod reads the
 * same bytes, so every shard computes the same plan hash and the merge accepts them), the
 * Indexed Job, and the merge Job. Only simulator scenarios: the local testbed needs Prometheus
 * and cgroups in each pod, and N shards of a cluster scenario would all act on the one
 * deployment under test at once.
 */
import { basename } from "node:path";
import { stringify } from "yaml";
import { UsageError } from "./cli-errors.ts";

export interface K8sJobOptions {
  /** Base name of the objects: `<name>` (the Indexed Job), `<name>-merge`, `<name>-scenario`. */
  readonly name: string;
  readonly namespace: string;
  /** The harness image (policies/service/Dockerfile builds it). */
  readonly image: string;
  /** Shards, one per completion index. */
  readonly shards: number;
  /** Pods running at once. @default shards */
  readonly parallelism?: number;
  /** Worker threads per pod, and the CPU each pod requests. @default 1 */
  readonly jobsPerPod?: number;
  /** PersistentVolumeClaim every pod mounts (cluster/manifests/ makes `runs`). @default "runs" */
  readonly pvc?: string;
  /** The scenario file's name and text, as the pods will read them. */
  readonly scenarioFile: string;
  readonly scenarioText: string;
  /** The scenario's backend: only `sim` is accepted. */
  readonly backend: string;
}

/** Where the pods mount the scenario and the shared volume. */
export const JOB_PATHS = { config: "/etc/chaos-rl", runs: "/var/lib/chaos-rl" } as const;

/** Names Kubernetes accepts for the Job's pods too: a DNS label with room for the suffixes. */
const NAME = /^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/;

/** A default object name from a scenario name: `matrix-<name>`, lowercased and cut to fit. */
export function defaultJobName(scenarioName: string): string {
  const s = `matrix-${scenarioName}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .slice(0, 42)
    .replace(/^-+|-+$/g, "");
  return s;
}

export function k8sJobObjects(o: K8sJobOptions): Record<string, unknown>[] {
  if (o.backend !== "sim") {
    throw new UsageError(
      o.backend === "cluster"
        ? "--k8s-job runs simulator scenarios only: N shards of a cluster scenario would all act on the one deployment under test at once"
        : `--k8s-job runs simulator scenarios only: backend ${o.backend} needs Prometheus and cgroups inside every pod`,
    );
  }
  if (!NAME.test(o.name)) {
    throw new UsageError(
      `Expected --name as a lowercase DNS label of at most 42 characters, got ${JSON.stringify(o.name)}`,
    );
  }
  if (!(Number.isInteger(o.shards) && o.shards >= 1)) {
    throw new UsageError(`Expected --shards as an integer >= 1, got ${o.shards}`);
  }
  const parallelism = o.parallelism ?? o.shards;
  if (!(Number.isInteger(parallelism) && parallelism >= 1)) {
    throw new UsageError(`Expected --parallelism as an integer >= 1, got ${parallelism}`);
  }
  const jobs = o.jobsPerPod ?? 1;
  const pvc = o.pvc ?? "runs";
  const file = basename(o.scenarioFile);
  const dir = `${JOB_PATHS.runs}/${o.name}`;
  const labels = { "app.kubernetes.io/name": "chaos-rl-matrix", "app.kubernetes.io/instance": o.name };
  const volumes = [
    { name: "scenario", configMap: { name: `${o.name}-scenario` } },
    { name: "runs", persistentVolumeClaim: { claimName: pvc } },
  ];
  const mounts = [
    { name: "scenario", mountPath: JOB_PATHS.config, readOnly: true },
    { name: "runs", mountPath: JOB_PATHS.runs },
  ];
  const container = (name: string, args: string[], cpu: number) => ({
    name,
    image: o.image,
    imagePullPolicy: "IfNotPresent",
    command: ["node", "scripts/harness.mjs"],
    args,
    resources: {
      requests: { cpu: String(cpu), memory: "512Mi" },
      limits: { cpu: String(cpu), memory: `${512 * Math.max(1, cpu)}Mi` },
    },
    volumeMounts: mounts,
    securityContext: { allowPrivilegeEscalation: false },
  });
  const podSpec = (c: ReturnType<typeof container>) => ({
    restartPolicy: "OnFailure",
    securityContext: { runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 },
    containers: [c],
    volumes,
  });
  const shardFiles = Array.from({ length: o.shards }, (_, k) => `${dir}/shard-${k}.duckdb`);
  return [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: `${o.name}-scenario`, namespace: o.namespace, labels },
      data: { [file]: o.scenarioText },
    },
    {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: o.name, namespace: o.namespace, labels },
      spec: {
        completionMode: "Indexed",
        completions: o.shards,
        parallelism,
        // A failed pod restarts in place and resumes its shard (--resume keeps finished episodes).
        backoffLimit: 3 * o.shards,
        template: {
          metadata: { labels },
          spec: podSpec(
            container(
              "shard",
              [
                "run",
                `${JOB_PATHS.config}/${file}`,
                "--shard",
                `job/${o.shards}`,
                // Kubernetes expands $(VAR) in args from the container's env, which the Job sets.
                "--db",
                `${dir}/shard-$(JOB_COMPLETION_INDEX).duckdb`,
                "--jobs",
                String(jobs),
                "--resume",
                "--log-format",
                "json",
              ],
              jobs,
            ),
          ),
        },
      },
    },
    {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: `${o.name}-merge`, namespace: o.namespace, labels },
      spec: {
        // Resumed once the Indexed Job is complete (see the header of the YAML).
        suspend: true,
        backoffLimit: 2,
        template: {
          metadata: { labels },
          spec: podSpec(container("merge", ["merge", `${dir}/matrix.duckdb`, ...shardFiles], 1)),
        },
      },
    },
  ];
}

/** The objects as one commented YAML stream, ready for `kubectl apply -f`. */
export function k8sJobYaml(o: K8sJobOptions): string {
  const objects = k8sJobObjects(o);
  const ns = o.namespace;
  const header = [
    `# ${o.scenarioFile} as a Kubernetes Indexed Job: ${o.shards} shard(s), written by \`harness plan --k8s-job\`.`,
    "#   kubectl apply -f THIS_FILE",
    `#   kubectl -n ${ns} wait --for=condition=complete job/${o.name} --timeout=-1s`,
    `#   kubectl -n ${ns} patch job ${o.name}-merge --type merge -p '{"spec":{"suspend":false}}'`,
    `#   kubectl -n ${ns} wait --for=condition=complete job/${o.name}-merge --timeout=-1s`,
    `# The merged store is ${JOB_PATHS.runs}/${o.name}/matrix.duckdb on the volume \`${o.pvc ?? "runs"}\``,
    "# (cluster/manifests/controller.yaml's `runs` pod mounts it: copy it out with kubectl cp, then `harness report`).",
    "",
  ].join("\n");
  return header + objects.map((obj) => stringify(obj, { lineWidth: 0, aliasDuplicateObjects: false })).join("---\n");
}
