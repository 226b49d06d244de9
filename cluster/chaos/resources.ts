/**
 * The six faults as Chaos Mesh objects (issue 14, part 4), as pure functions: a `FaultSpec`
 * and the context of one injection in, the object to create out. The Kubernetes backend's
 * injector (cluster/kube/) sends them; `cluster/chaos/*.yaml` shows the same objects for
 * people who use Chaos Mesh by hand; tests validate both against the real CRD schemas.
 *
 * | fault | object | what Chaos Mesh does |
 * |---|---|---|
 * | pod-kill | PodChaos `pod-kill` | deletes the pod at once (grace period 0); the ReplicaSet replaces it |
 * | pod-failure | PodChaos `pod-failure` | swaps the container's image for a pause image until the duration ends |
 * | cpu-stress | StressChaos `cpu` | stress-ng CPU workers in the container's cgroup, `load` of its CPU limit |
 * | memory-leak | StressChaos `memory` | memStress growing linearly to the container's memory limit at `ratePerMin` |
 * | network-delay | NetworkChaos `delay` | netem delay on the pod's outgoing traffic (its responses) |
 * | load-spike | (no Chaos Mesh kind) | a strategic-merge patch of the load generator's Deployment env |
 *
 * Every object carries the run, episode, fault id and fault type as labels (so `harness chaos
 * cleanup --run ID` finds leftovers by label) and a `duration`, so Chaos Mesh ends the fault
 * by itself if the harness dies. Two faults have no real end for Chaos Mesh to enforce:
 * - pod-kill is one-shot: the kill happens when the object is created and cannot be undone,
 *   so its `duration` bounds nothing of the effect. It is set anyway: the object then reaches
 *   its finished state (desired phase Stop) after it, like every other chaos the harness
 *   writes, and "no chaos object without a duration" holds without exceptions.
 * - load-spike is not Chaos Mesh's to end. The patch therefore carries its own end
 *   (`LOAD_FACTOR_UNTIL`, a Unix time) that the load generator obeys on its own
 *   (cluster/loadgen/), so a spike ends on time even if the harness dies; the Deployment keeps
 *   the stale env until `loadSpikeRevert` (or the cleanup) patches it back.
 */
import { z } from "zod";
import type { FaultSpec, FaultType } from "../../harness/core/contract.ts";

export const CHAOS_API_GROUP = "chaos-mesh.org";
export const CHAOS_API_VERSION = `${CHAOS_API_GROUP}/v1alpha1`;

/** Labels every object the harness writes carries; `harness chaos cleanup` selects on them. */
export const CHAOS_LABELS = {
  /** The run id (the trace store's `runs.id`). */
  run: "chaos-rl/run",
  /** The episode number within the run. */
  episode: "chaos-rl/episode",
  /** The fault's id within its episode (`FaultInjection.id`). */
  fault: "chaos-rl/fault-id",
  /** The fault type (`pod-kill`, ...). */
  faultType: "chaos-rl/fault-type",
  managedBy: "app.kubernetes.io/managed-by",
} as const;

/** Value of {@link CHAOS_LABELS.managedBy} on everything the harness creates. */
export const MANAGED_BY = "chaos-rl-harness";

/** Annotation holding the fault's full spec as JSON, so a leftover says what it was. */
export const FAULT_SPEC_ANNOTATION = "chaos-rl/fault-spec";

/** Resource names (plural, as in the API path) by kind. */
export const CHAOS_PLURALS = {
  PodChaos: "podchaos",
  StressChaos: "stresschaos",
  NetworkChaos: "networkchaos",
} as const;
export type ChaosKind = keyof typeof CHAOS_PLURALS;
export const CHAOS_KINDS = Object.keys(CHAOS_PLURALS) as ChaosKind[];

// ---------------------------------------------------------------------------
// Context

/** RFC 1123 label: what a namespace or a container name must be. */
const dnsLabel = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "Expected a lowercase RFC 1123 label (a-z, 0-9, '-')");
/** RFC 1123 subdomain: what an object name must be. */
const dnsSubdomain = z
  .string()
  .max(253)
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    "Expected a lowercase RFC 1123 subdomain (a-z, 0-9, '-', '.')",
  );
/** A label value: at most 63 characters, alphanumeric at both ends. */
const labelValue = z
  .string()
  .max(63)
  .regex(/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/, "Expected a label value (A-Z, a-z, 0-9, '-', '_', '.')");
/** A label key: an optional DNS-subdomain prefix and a name of at most 63 characters. */
const labelKey = z
  .string()
  .regex(
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
    "Expected a label key ([prefix/]name)",
  );

const loadGeneratorSchema = z
  .object({
    /** @default "loadgen" (cluster/manifests/) */
    deployment: dnsSubdomain.default("loadgen"),
    /** @default "loadgen" */
    container: dnsLabel.default("loadgen"),
  })
  .strict()
  .default({ deployment: "loadgen", container: "loadgen" });

/** Where the load generator is: what reverting a load-spike needs (the cleanup has no more). */
export const loadGeneratorRefSchema = z.object({ namespace: dnsLabel, loadGenerator: loadGeneratorSchema }).strict();
export type LoadGeneratorRefInput = z.input<typeof loadGeneratorRefSchema>;
export type LoadGeneratorRef = z.output<typeof loadGeneratorRefSchema>;

export const chaosContextSchema = z
  .object({
    /** Namespace of the target pods, and of the chaos object (Chaos Mesh acts in its own namespace). */
    namespace: dnsLabel,
    /**
     * Which pod the fault hits: one named pod (what the harness uses: it picks the pod by the
     * contract's rank rule), or one pod Chaos Mesh picks among those with these labels (mode
     * `one`, for use by hand). Ignored by load-spike.
     */
    target: z.union([
      z.object({ pod: dnsSubdomain }).strict(),
      z
        .object({ labels: z.record(labelKey, labelValue).refine((l) => Object.keys(l).length > 0, "Expected labels") })
        .strict(),
    ]),
    /** Container a StressChaos acts in; Chaos Mesh's default is the pod's first container. */
    container: dnsLabel.optional(),
    runId: labelValue.min(1),
    episode: z.number().int().min(0),
    /** The fault's id within its episode. */
    faultId: z.number().int().min(0).default(0),
    /**
     * The longest the fault may live, seconds: the object's `duration` is the smaller of this
     * and the spec's own `durationS` (memory-leak has none, pod-kill none that matters). The
     * backend passes what is left of the episode, so nothing outlives it.
     */
    durationS: z.number().positive(),
    /** Name of the object; unique per fault in the namespace. */
    name: dnsSubdomain,
    /**
     * The target container's resources, as its pod spec has them. cpu-stress needs the CPU
     * limit (its `load` is a share of it, as the collector reads CPU), memory-leak the memory
     * limit (its `ratePerMin` is a share of it per minute).
     */
    resources: z
      .object({
        cpuLimitCores: z.number().positive(),
        memoryLimitBytes: z.number().int().positive(),
      })
      .strict()
      .optional(),
    /** The load generator a load-spike patches. */
    loadGenerator: loadGeneratorSchema,
    /** Unix time of the injection, seconds: the start of a load-spike's own clock. */
    nowUnixS: z.number().nonnegative().optional(),
  })
  .strict();
export type ChaosContextInput = z.input<typeof chaosContextSchema>;
export type ChaosContext = z.output<typeof chaosContextSchema>;

/** Raised for a context the builders cannot turn into a valid object (a bad name, a missing limit). */
export class ChaosSpecError extends Error {
  readonly code = "ChaosSpecInvalid";
  readonly transient = false;
  constructor(message: string) {
    super(message);
    this.name = "ChaosSpecError";
  }
}

function parseContext(input: ChaosContextInput): ChaosContext {
  const r = chaosContextSchema.safeParse(input);
  if (r.success) return r.data;
  throw new ChaosSpecError(`Invalid chaos context:\n${z.prettifyError(r.error)}`);
}

// ---------------------------------------------------------------------------
// Chaos Mesh objects (the fields the harness writes; the CRDs have more)

export interface ObjectMeta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Chaos Mesh's pod selector (`spec.selector`), the subset the harness uses. */
export interface ChaosSelector {
  namespaces?: string[];
  /** namespace -> pod names. */
  pods?: Record<string, string[]>;
  labelSelectors?: Record<string, string>;
}

interface ChaosCommon {
  mode: "one";
  selector: ChaosSelector;
  /** Go duration string (`120s`, `1500ms`). */
  duration: string;
}

export interface PodChaos {
  apiVersion: typeof CHAOS_API_VERSION;
  kind: "PodChaos";
  metadata: ObjectMeta;
  spec: ChaosCommon & {
    action: "pod-kill" | "pod-failure";
    /** pod-kill: seconds before deletion; 0 deletes at once, as the simulator's kill does. */
    gracePeriod?: number;
  };
}

export interface StressChaos {
  apiVersion: typeof CHAOS_API_VERSION;
  kind: "StressChaos";
  metadata: ObjectMeta;
  spec: ChaosCommon & {
    containerNames?: string[];
    stressors: {
      cpu?: { workers: number; load: number };
      memory?: { workers: number; size: string; oomScoreAdj: number; options: string[] };
    };
  };
}

export interface NetworkChaos {
  apiVersion: typeof CHAOS_API_VERSION;
  kind: "NetworkChaos";
  metadata: ObjectMeta;
  spec: ChaosCommon & {
    action: "delay";
    direction: "to";
    delay: { latency: string };
  };
}

export type ChaosResource = PodChaos | StressChaos | NetworkChaos;

// ---------------------------------------------------------------------------
// load-spike: a patch of the load generator's Deployment

/** Env of the load generator (cluster/loadgen/) that a load-spike sets. */
export const LOAD_ENV = {
  /** Multiplier on the base rate while the spike lasts. */
  factor: "LOAD_FACTOR",
  /** Unix time, seconds, after which the generator goes back to its base rate on its own; empty: no end. */
  until: "LOAD_FACTOR_UNTIL",
} as const;

/**
 * A strategic-merge patch (`application/strategic-merge-patch+json`) of
 * `apps/v1 Deployment <name>`: env entries merge by `name`, so only the two variables change.
 * Changing the pod template rolls the load generator's single pod (a few seconds without load
 * at both ends of the spike while the new pod starts).
 */
export interface LoadSpikePatch {
  readonly kind: "Deployment";
  readonly apiVersion: "apps/v1";
  readonly namespace: string;
  readonly name: string;
  readonly contentType: "application/strategic-merge-patch+json";
  readonly patch: {
    metadata: { labels: Record<string, string | null>; annotations: Record<string, string | null> };
    spec: { template: { spec: { containers: { name: string; env: { name: string; value: string }[] }[] } } };
  };
}

/** What one fault becomes on the cluster: a Chaos Mesh object to create, or a load-generator patch. */
export type FaultObject =
  | { readonly type: "chaos"; readonly plural: (typeof CHAOS_PLURALS)[ChaosKind]; readonly resource: ChaosResource }
  | { readonly type: "load-patch"; readonly patch: LoadSpikePatch; readonly revert: LoadSpikePatch };

// ---------------------------------------------------------------------------
// Builders

/**
 * A Go duration string for `s` seconds, as Chaos Mesh's `time.ParseDuration` reads it: whole
 * seconds as `120s`, anything finer in whole milliseconds (rounded up, never to 0).
 */
export function goDuration(s: number): string {
  if (!(s > 0) || !Number.isFinite(s)) throw new ChaosSpecError(`Expected a duration > 0 seconds, got ${s}`);
  if (Number.isInteger(s)) return `${s}s`;
  return `${Math.max(1, Math.ceil(s * 1000))}ms`;
}

function metadata(spec: FaultSpec, ctx: ChaosContext): ObjectMeta {
  return {
    name: ctx.name,
    namespace: ctx.namespace,
    labels: faultLabels(spec.type, ctx),
    annotations: { [FAULT_SPEC_ANNOTATION]: JSON.stringify(spec) },
  };
}

/** The labels of one fault's object (also on a load-spike's patched Deployment). */
export function faultLabels(type: FaultType, ctx: Pick<ChaosContext, "runId" | "episode" | "faultId">) {
  return {
    [CHAOS_LABELS.run]: ctx.runId,
    [CHAOS_LABELS.episode]: String(ctx.episode),
    [CHAOS_LABELS.fault]: String(ctx.faultId),
    [CHAOS_LABELS.faultType]: type,
    [CHAOS_LABELS.managedBy]: MANAGED_BY,
  };
}

/**
 * A label selector for what the harness left: every object of one run (or one episode of it),
 * or, without a run, of every run. It selects a spiked load generator's Deployment too (which
 * carries the run labels but not `managed-by`).
 */
export function runSelector(runId?: string, episode?: number): string {
  if (runId === undefined) return CHAOS_LABELS.run;
  const parts = [`${CHAOS_LABELS.run}=${runId}`];
  if (episode !== undefined) parts.push(`${CHAOS_LABELS.episode}=${episode}`);
  return parts.join(",");
}

function selector(ctx: ChaosContext): ChaosSelector {
  const t = ctx.target;
  // A named pod alone: Chaos Mesh's `pods` map (namespace -> names) selects exactly it.
  if ("pod" in t) return { pods: { [ctx.namespace]: [t.pod] } };
  return { namespaces: [ctx.namespace], labelSelectors: { ...t.labels } };
}

function common(ctx: ChaosContext, ownDurationS: number | undefined): ChaosCommon {
  return {
    mode: "one",
    selector: selector(ctx),
    duration: goDuration(Math.min(ownDurationS ?? Number.POSITIVE_INFINITY, ctx.durationS)),
  };
}

/** StressChaos acts in one container's cgroup (PodChaos and NetworkChaos act on the whole pod). */
function containers(ctx: ChaosContext): { containerNames?: string[] } {
  return ctx.container ? { containerNames: [ctx.container] } : {};
}

function needResources(spec: FaultSpec, ctx: ChaosContext): NonNullable<ChaosContext["resources"]> {
  if (ctx.resources) return ctx.resources;
  throw new ChaosSpecError(
    `Expected context.resources (the target container's CPU and memory limits) for ${spec.type}: ` +
      "its strength is a share of the pod's limits",
  );
}

/**
 * stress-ng CPU workers adding `load` × the CPU limit: one worker per started core, each at
 * the same percentage of one CPU (stress-ng's `--cpu-load` is per worker, 1..100).
 */
export function cpuStressors(load: number, cpuLimitCores: number): { workers: number; load: number } {
  const cores = load * cpuLimitCores;
  const workers = Math.max(1, Math.ceil(cores - 1e-9));
  return { workers, load: Math.max(1, Math.min(100, Math.round((100 * cores) / workers))) };
}

/**
 * memStress growing to the container's memory limit linearly in `60 / ratePerMin` seconds
 * (its `--time`), so the container is OOM-killed when its own use plus the leak reaches the
 * limit, as in the simulator. `oomScoreAdj: -1000` keeps the kernel's OOM killer off the
 * stressor, so it kills the service's process (the container restarts), as a real leak in the
 * service would. Chaos Mesh's CRD has no `time` field (its docs do): `options` is what
 * reaches memStress.
 */
export function memoryStressors(ratePerMin: number, memoryLimitBytes: number) {
  const mib = Math.max(1, Math.ceil(memoryLimitBytes / 1048576));
  const fillS = Math.max(1, Math.round(60 / ratePerMin));
  return { workers: 1, size: `${mib}MiB`, oomScoreAdj: -1000, options: ["--time", `${fillS}s`] };
}

/** The Chaos Mesh object of a pod fault (every type but load-spike). */
export function chaosResource(spec: FaultSpec, input: ChaosContextInput): ChaosResource {
  const ctx = parseContext(input);
  const meta = metadata(spec, ctx);
  const api = CHAOS_API_VERSION;
  switch (spec.type) {
    case "pod-kill": {
      const c = common(ctx, undefined);
      return { apiVersion: api, kind: "PodChaos", metadata: meta, spec: { ...c, action: "pod-kill", gracePeriod: 0 } };
    }
    case "pod-failure": {
      const c = common(ctx, spec.durationS);
      return { apiVersion: api, kind: "PodChaos", metadata: meta, spec: { ...c, action: "pod-failure" } };
    }
    case "cpu-stress": {
      const cpu = cpuStressors(spec.load, needResources(spec, ctx).cpuLimitCores);
      return {
        apiVersion: api,
        kind: "StressChaos",
        metadata: meta,
        spec: { ...common(ctx, spec.durationS), ...containers(ctx), stressors: { cpu } },
      };
    }
    case "memory-leak": {
      const memory = memoryStressors(spec.ratePerMin, needResources(spec, ctx).memoryLimitBytes);
      return {
        apiVersion: api,
        kind: "StressChaos",
        metadata: meta,
        spec: { ...common(ctx, undefined), ...containers(ctx), stressors: { memory } },
      };
    }
    case "network-delay":
      return {
        apiVersion: api,
        kind: "NetworkChaos",
        metadata: meta,
        spec: {
          ...common(ctx, spec.durationS),
          action: "delay",
          // "to" is the pod's egress: its responses, so every request it serves waits delayMs.
          direction: "to",
          delay: { latency: `${Math.max(1, Math.round(spec.delayMs))}ms` },
        },
      };
    case "load-spike":
      throw new ChaosSpecError("load-spike is not a Chaos Mesh kind: use loadSpikePatch");
  }
}

/** The labels a spike puts on the load generator's Deployment (not `managed-by`: the Deployment is not the harness's). */
const SPIKE_LABEL_KEYS = [CHAOS_LABELS.run, CHAOS_LABELS.episode, CHAOS_LABELS.fault, CHAOS_LABELS.faultType];

function loadPatch(
  ctx: LoadGeneratorRef,
  labels: Record<string, string | null>,
  annotations: Record<string, string | null>,
  env: { name: string; value: string }[],
): LoadSpikePatch {
  return {
    kind: "Deployment",
    apiVersion: "apps/v1",
    namespace: ctx.namespace,
    name: ctx.loadGenerator.deployment,
    contentType: "application/strategic-merge-patch+json",
    patch: {
      metadata: { labels, annotations },
      spec: { template: { spec: { containers: [{ name: ctx.loadGenerator.container, env }] } } },
    },
  };
}

/**
 * The load-spike as a patch of the load generator's Deployment, and the patch that reverts it.
 * The spike ends at `nowUnixS + min(spec.durationS, durationS)` by the generator's own clock.
 * The Deployment carries the fault's labels while the spike is on, so the cleanup finds it.
 */
export function loadSpikePatch(
  spec: Extract<FaultSpec, { type: "load-spike" }>,
  input: ChaosContextInput,
): { patch: LoadSpikePatch; revert: LoadSpikePatch } {
  const ctx = parseContext(input);
  if (ctx.nowUnixS === undefined) {
    throw new ChaosSpecError("Expected context.nowUnixS for load-spike: the spike's end is an absolute time");
  }
  const untilS = Math.ceil(ctx.nowUnixS + Math.min(spec.durationS, ctx.durationS));
  const all = faultLabels(spec.type, ctx);
  const labels = Object.fromEntries(SPIKE_LABEL_KEYS.map((k) => [k, all[k]!]));
  const patch = loadPatch(ctx, labels, { [FAULT_SPEC_ANNOTATION]: JSON.stringify(spec) }, [
    { name: LOAD_ENV.factor, value: String(spec.factor) },
    { name: LOAD_ENV.until, value: String(untilS) },
  ]);
  return { patch, revert: loadSpikeRevert({ namespace: ctx.namespace, loadGenerator: ctx.loadGenerator }) };
}

/**
 * The patch that puts the load generator back to its base rate and takes the fault's labels
 * off (null deletes a key in a merge patch). Also what `harness chaos cleanup` applies to a
 * Deployment it finds with a run's labels.
 */
export function loadSpikeRevert(where: LoadGeneratorRefInput): LoadSpikePatch {
  const r = loadGeneratorRefSchema.safeParse(where);
  if (!r.success) throw new ChaosSpecError(`Invalid load generator reference: ${z.prettifyError(r.error)}`);
  const labels = Object.fromEntries(SPIKE_LABEL_KEYS.map((k) => [k, null]));
  return loadPatch(r.data, labels, { [FAULT_SPEC_ANNOTATION]: null }, [
    { name: LOAD_ENV.factor, value: "1" },
    { name: LOAD_ENV.until, value: "" },
  ]);
}

/** What one fault becomes on the cluster (see the table at the top of this file). */
export function faultObject(spec: FaultSpec, input: ChaosContextInput): FaultObject {
  if (spec.type === "load-spike") return { type: "load-patch", ...loadSpikePatch(spec, input) };
  const resource = chaosResource(spec, input);
  return { type: "chaos", plural: CHAOS_PLURALS[resource.kind], resource };
}
