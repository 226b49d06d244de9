/**
 * The Kubernetes API as the cluster backend uses it: a dozen typed operations over
 * `@kubernetes/client-node` 1.x, each one call through `KubeCalls` (allow-list, dry run,
 * retries, audit). Nothing else in cluster/kube/ touches client-node's API classes, so the
 * tests against the HTTP fake (fake-apiserver.ts) cover every request the backend can send.
 */
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  type V1Pod,
  type V1PodList,
  type V1Scale,
  type V1Service,
} from "@kubernetes/client-node";
import type { ClusterSection } from "../../scenarios/cluster.ts";
import { type ApiCallRecord, KubeCalls, type KubeCallsOptions } from "./calls.ts";
import { KubeApiError, KubeErrorCode } from "./errors.ts";

/** A Chaos Mesh kind (or any namespaced custom resource) as the API addresses it. */
export interface CustomKind {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
}

/** A custom object as it comes back: metadata, spec and status untyped beyond what is used. */
export interface CustomObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    resourceVersion?: string;
    deletionTimestamp?: string;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

/**
 * Loads the kubeconfig the scenario names: `kubeconfig` (a file) or the default chain
 * ($KUBECONFIG, ~/.kube/config, the in-cluster service account), then `context` if given.
 */
export function loadKubeConfig(c: Pick<ClusterSection, "kubeconfig" | "context">): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (c.kubeconfig !== undefined) kc.loadFromFile(c.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw new KubeApiError(
      KubeErrorCode.Config,
      false,
      `cluster.kubeconfig ${c.kubeconfig ?? "(default)"}: ${(err as Error).message}`,
      0,
      "Config",
      null,
      { cause: err },
    );
  }
  if (c.context !== undefined) {
    if (!kc.getContexts().some((x) => x.name === c.context)) {
      throw new KubeApiError(
        KubeErrorCode.Config,
        false,
        `kubeconfig has no context ${JSON.stringify(c.context)} (has: ${kc
          .getContexts()
          .map((x) => x.name)
          .join(", ")})`,
        0,
        "Config",
        null,
      );
    }
    kc.setCurrentContext(c.context);
  }
  return kc;
}

const MERGE = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const STRATEGIC = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);
const JSON_PATCH = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);

export class KubeClient {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly custom: CustomObjectsApi;
  readonly calls: KubeCalls;

  constructor(
    readonly config: KubeConfig,
    options: KubeCallsOptions,
  ) {
    this.core = config.makeApiClient(CoreV1Api);
    this.apps = config.makeApiClient(AppsV1Api);
    this.custom = config.makeApiClient(CustomObjectsApi);
    this.calls = new KubeCalls(options);
  }

  get dryRun(): boolean {
    return this.calls.dryRun;
  }

  listPods(namespace: string, labelSelector: string): Promise<V1PodList> {
    return this.calls.call({ verb: "list", resource: "pods", namespace, detail: labelSelector }, () =>
      this.core.listNamespacedPod({ namespace, labelSelector }),
    );
  }

  getDeployment(namespace: string, name: string): Promise<V1Deployment> {
    return this.calls.call({ verb: "get", resource: "deployments", namespace, name }, () =>
      this.apps.readNamespacedDeployment({ namespace, name }),
    );
  }

  getService(namespace: string, name: string): Promise<V1Service> {
    return this.calls.call({ verb: "get", resource: "services", namespace, name }, () =>
      this.core.readNamespacedService({ namespace, name }),
    );
  }

  getScale(namespace: string, name: string, signal?: AbortSignal): Promise<V1Scale> {
    return this.calls.call(
      { verb: "get", resource: "deployments/scale", namespace, name },
      () => this.apps.readNamespacedDeploymentScale({ namespace, name }),
      undefined,
      signal,
    );
  }

  /**
   * Sets `spec.replicas` through the scale subresource: a merge patch of an absolute count, so
   * a retry of the same request cannot add a replica twice. With `resourceVersion` (the one the
   * count was computed from) it is also a precondition: the API server refuses the patch with
   * 409 Conflict when the Deployment has changed since, and `conflict` is returned (not
   * retried: the same body would meet the same 409; the caller reads again).
   */
  patchScale(
    namespace: string,
    name: string,
    replicas: number,
    resourceVersion?: string,
    signal?: AbortSignal,
  ): Promise<V1Scale | "conflict"> {
    const metadata = resourceVersion === undefined ? {} : { metadata: { resourceVersion } };
    return this.calls.call<V1Scale | "conflict">(
      {
        verb: "patch",
        resource: "deployments/scale",
        namespace,
        name,
        detail: `replicas ${replicas}${resourceVersion === undefined ? "" : ` (resourceVersion ${resourceVersion})`}`,
      },
      (dryRun) =>
        this.apps.patchNamespacedDeploymentScale(
          { namespace, name, body: { ...metadata, spec: { replicas } }, ...(dryRun ? { dryRun } : {}) },
          MERGE,
        ),
      (e) => (resourceVersion !== undefined && isStaleWrite(e) ? "conflict" : undefined),
      signal,
    );
  }

  /** A pod, or null when it does not exist. */
  async getPod(namespace: string, name: string): Promise<V1Pod | null> {
    const r = await this.calls.call<V1Pod | "gone">(
      { verb: "get", resource: "pods", namespace, name },
      () => this.core.readNamespacedPod({ namespace, name }),
      (e) => (e.status === 404 ? "gone" : undefined),
    );
    return r === "gone" ? null : r;
  }

  /**
   * Sets and removes (`null`) labels and annotations of a pod in one merge patch, with the
   * pod's `resourceVersion` as precondition: a pod changed or replaced since it was read is
   * not touched (`conflict`: read it again), a pod gone is `gone`.
   */
  patchPodMetadata(
    namespace: string,
    name: string,
    change: {
      readonly resourceVersion: string;
      readonly labels?: Record<string, string | null>;
      readonly annotations?: Record<string, string | null>;
    },
    detail: string,
  ): Promise<V1Pod | "conflict" | "gone"> {
    const metadata = {
      resourceVersion: change.resourceVersion,
      ...(change.labels ? { labels: change.labels } : {}),
      ...(change.annotations ? { annotations: change.annotations } : {}),
    };
    return this.calls.call<V1Pod | "conflict" | "gone">(
      {
        verb: "patch",
        resource: "pods",
        namespace,
        name,
        detail: `${detail} (resourceVersion ${change.resourceVersion})`,
      },
      (dryRun) =>
        this.core.patchNamespacedPod({ namespace, name, body: { metadata }, ...(dryRun ? { dryRun } : {}) }, MERGE),
      (e) => (e.status === 404 ? "gone" : isStaleWrite(e) ? "conflict" : undefined),
    );
  }

  listDeployments(namespace: string, labelSelector: string): Promise<V1Deployment[]> {
    return this.calls
      .call({ verb: "list", resource: "deployments", namespace, detail: labelSelector }, () =>
        this.apps.listNamespacedDeployment({ namespace, labelSelector }),
      )
      .then((l) => l.items);
  }

  /** A strategic merge patch of a Deployment (the load generator's env during a load-spike). */
  patchDeployment(namespace: string, name: string, patch: object): Promise<V1Deployment> {
    return this.calls.call(
      { verb: "patch", resource: "deployments", namespace, name, detail: "strategic merge" },
      (dryRun) =>
        this.apps.patchNamespacedDeployment({ namespace, name, body: patch, ...(dryRun ? { dryRun } : {}) }, STRATEGIC),
    );
  }

  /**
   * Deletes a pod if it is still the one with `uid` (a precondition: a pod of the same name
   * recreated since is left alone). A 409 on the precondition or a 404 means the pod was
   * already replaced or deleted: `gone` is returned instead of an error.
   */
  deletePod(namespace: string, name: string, uid: string, signal?: AbortSignal): Promise<V1Pod | "gone"> {
    return this.calls.call<V1Pod | "gone">(
      { verb: "delete", resource: "pods", namespace, name, detail: `uid ${uid}` },
      (dryRun) =>
        this.core.deleteNamespacedPod({
          namespace,
          name,
          body: { preconditions: { uid } },
          ...(dryRun ? { dryRun } : {}),
        }),
      (e) => (isPreconditionFailure(e) || e.status === 404 ? "gone" : undefined),
      signal,
    );
  }

  /**
   * Removes (`value` null) or sets a label on the pod with `uid`: a JSON patch whose first
   * operation tests the uid, so that a replaced pod is not touched (422 on a failed test:
   * settled as `gone`, like a 404).
   */
  patchPodLabel(
    namespace: string,
    name: string,
    uid: string,
    key: string,
    value: string | null,
  ): Promise<V1Pod | "gone"> {
    const path = `/metadata/labels/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`;
    const ops = [
      { op: "test", path: "/metadata/uid", value: uid },
      value === null ? { op: "remove", path } : { op: "add", path, value },
    ];
    return this.calls.call<V1Pod | "gone">(
      {
        verb: "patch",
        resource: "pods",
        namespace,
        name,
        detail: value === null ? `remove label ${key} (uid ${uid})` : `label ${key}=${value} (uid ${uid})`,
      },
      (dryRun) =>
        this.core.patchNamespacedPod({ namespace, name, body: ops, ...(dryRun ? { dryRun } : {}) }, JSON_PATCH),
      (e) => (e.status === 404 || (e.status === 422 && /test/i.test(e.message)) ? "gone" : undefined),
    );
  }

  createCustom(kind: CustomKind, namespace: string, body: CustomObject): Promise<CustomObject> {
    return this.calls.call(
      { verb: "create", resource: kind.plural, namespace, name: body.metadata?.name ?? "" },
      (dryRun) =>
        this.custom.createNamespacedCustomObject({
          ...kind,
          namespace,
          body,
          ...(dryRun ? { dryRun } : {}),
        }) as Promise<CustomObject>,
    );
  }

  /** Deletes a custom object; `gone` when it was not there. */
  deleteCustom(kind: CustomKind, namespace: string, name: string): Promise<CustomObject | "gone"> {
    return this.calls.call<CustomObject | "gone">(
      { verb: "delete", resource: kind.plural, namespace, name },
      (dryRun) =>
        this.custom.deleteNamespacedCustomObject({
          ...kind,
          namespace,
          name,
          ...(dryRun ? { dryRun } : {}),
        }) as Promise<CustomObject>,
      (e) => (e.status === 404 ? "gone" : undefined),
    );
  }

  /** A custom object, or null when it does not exist. */
  async getCustom(kind: CustomKind, namespace: string, name: string): Promise<CustomObject | null> {
    const r = await this.calls.call<CustomObject | "gone">(
      { verb: "get", resource: kind.plural, namespace, name },
      () => this.custom.getNamespacedCustomObject({ ...kind, namespace, name }) as Promise<CustomObject>,
      (e) => (e.status === 404 ? "gone" : undefined),
    );
    return r === "gone" ? null : r;
  }

  /** Custom objects with the labels, in one namespace. */
  async listCustom(kind: CustomKind, namespace: string, labelSelector: string): Promise<CustomObject[]> {
    const r = (await this.calls.call({ verb: "list", resource: kind.plural, namespace, detail: labelSelector }, () =>
      this.custom.listNamespacedCustomObject({ ...kind, namespace, labelSelector }),
    )) as { items?: CustomObject[] };
    return r.items ?? [];
  }
}

/** The 409 of optimistic concurrency: the resourceVersion the write named is not the object's any more. */
function isStaleWrite(e: KubeApiError): boolean {
  return e.status === 409 && e.reason === "Conflict" && /has been modified/i.test(e.message);
}

function isPreconditionFailure(e: KubeApiError): boolean {
  return e.status === 409 && /precondition/i.test(e.message);
}

export type { ApiCallRecord };
