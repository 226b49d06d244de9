/**
 * A Kubernetes API server double at the HTTP level, for tests of the cluster backend: the
 * real `@kubernetes/client-node` calls go over a real socket to this server, which answers
 * with the API server's semantics for the subset the backend uses:
 * - objects in a store with a global `resourceVersion`, `uid`s and creation timestamps;
 * - errors as `Status` objects (404 NotFound, also for a resource it does not serve, 409
 *   AlreadyExists, 409 Conflict on a stale uid precondition, a patch naming another uid or a
 *   patch carrying a stale `metadata.resourceVersion` (optimistic concurrency), 422 Invalid
 *   with causes, 415 on an unknown patch type), plus failures a test queues (429 with
 *   Retry-After, 5xx), before the request is carried out or after it (`afterApplying`: the
 *   write is stored and only its answer fails), and answers a test holds back (`holdNext`: a
 *   write stored whose answer comes late, as after a client's timeout);
 * - discovery: `/api`, `/apis`, `/apis/{group}`, `/api/v1` and `/apis/{group}/{version}`
 *   (APIVersions, APIGroupList, APIGroup, APIResourceList) list the resources it serves,
 *   with their verbs and subresources (`deployments/scale`, `pods/eviction`, ...);
 * - `dryRun=All` on writes: validated and answered, never stored;
 * - finalizers: a delete of an object that has some only sets its `deletionTimestamp`; it
 *   goes when a test (standing in for its controller) removes them with `update`;
 * - patches: merge (RFC 7386), strategic merge on the built-in kinds (strategic-merge.ts:
 *   lists merged by their merge key, `$patch` directives) and 415 for it on a custom resource
 *   (the API server has no patch strategy for a CRD), JSON patch (add, remove, replace, test);
 * - `deployments/{name}/scale`: the Scale subresource read from and written to the Deployment;
 * - `pods/{name}/eviction`: a POSTed Eviction deletes the pod (no PodDisruptionBudgets here);
 * - list with `labelSelector` (=, ==, !=, exists, !exists) and the list's resourceVersion;
 * - watch: a chunked stream of JSON lines from a resourceVersion; one older than the
 *   compaction point gets a 200 with an ERROR event carrying a 410 Expired Status (as the
 *   API server does), and a test can expire or drop the open watches.
 * Every request is recorded (method, path, query, content type, parsed body) for assertions.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { hasStrategicSchema, StrategicMergeError, strategicMerge } from "./strategic-merge.ts";

export type Json = Record<string, unknown>;

export interface KubeObject extends Json {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    creationTimestamp?: string;
    [k: string]: unknown;
  };
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly contentType: string;
  readonly body: unknown;
  /** ms since the server started (for back-off assertions). */
  readonly atMs: number;
}

export interface QueuedFailure {
  readonly status: number;
  readonly reason: string;
  readonly message?: string;
  readonly retryAfterS?: number;
  /**
   * Carry the request out first (stored, watchers told, `onWrite` called) and answer with this
   * failure instead of its result: a gateway's 5xx after the write went through.
   */
  readonly afterApplying?: boolean;
}

/** A request carried out whose answer is held back (`FakeApiServer.holdNext`). */
export interface HeldAnswer {
  /** Resolves once the request has been carried out (its answer ready, not sent). */
  readonly applied: Promise<void>;
  /** Sends the held answer now. */
  release(): void;
}

interface Match {
  readonly method?: string;
  /** The request path (no query) must contain this. */
  readonly path?: string;
  /** Only watches (true) or only non-watches (false). */
  readonly watch?: boolean;
}

/** A client's write as stored (see `FakeApiServer.onWrite`). */
export interface ClientWrite {
  readonly ref: ResourceRef;
  readonly verb: "create" | "patch" | "delete";
  readonly object: KubeObject;
  readonly previous: KubeObject | null;
  readonly sub?: "scale";
}

/** Where a resource lives: its API group ("" for core) and plural. */
export interface ResourceRef {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
}

export const PODS: ResourceRef = { group: "", version: "v1", plural: "pods", kind: "Pod" };
export const SERVICES: ResourceRef = { group: "", version: "v1", plural: "services", kind: "Service" };
export const DEPLOYMENTS: ResourceRef = { group: "apps", version: "v1", plural: "deployments", kind: "Deployment" };
export const CONFIGMAPS: ResourceRef = { group: "", version: "v1", plural: "configmaps", kind: "ConfigMap" };

/** A subresource as discovery lists it (`deployments/scale` is an `autoscaling/v1` Scale). */
export interface ServedSubresource {
  readonly name: string;
  readonly kind: string;
  readonly verbs: readonly string[];
  readonly group?: string;
  readonly version?: string;
}

/** A resource this server serves: its discovery entry, and whether it is a custom resource. */
export interface ServedResource extends ResourceRef {
  readonly singular: string;
  readonly namespaced: boolean;
  readonly verbs: readonly string[];
  readonly shortNames?: readonly string[];
  readonly categories?: readonly string[];
  /** A CRD's resource: no strategic merge patch (415), as on the API server. */
  readonly custom: boolean;
  readonly subresources?: readonly ServedSubresource[];
}

const ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"] as const;
const STATUS: ServedSubresource = { name: "status", kind: "", verbs: ["get", "patch", "update"] };

/** The Chaos Mesh kinds the backend writes, as their CRDs declare them (no subresources). */
const CHAOS_KINDS: readonly [string, string][] = [
  ["PodChaos", "podchaos"],
  ["StressChaos", "stresschaos"],
  ["NetworkChaos", "networkchaos"],
];

/** What the server serves from the start: the backend's subset of the API. */
export const DEFAULT_SERVED: readonly ServedResource[] = [
  {
    ...PODS,
    singular: "pod",
    namespaced: true,
    verbs: ALL_VERBS,
    shortNames: ["po"],
    categories: ["all"],
    custom: false,
    subresources: [
      { name: "eviction", group: "policy", version: "v1", kind: "Eviction", verbs: ["create"] },
      { ...STATUS, kind: "Pod" },
    ],
  },
  {
    ...SERVICES,
    singular: "service",
    namespaced: true,
    verbs: ALL_VERBS,
    shortNames: ["svc"],
    categories: ["all"],
    custom: false,
    subresources: [{ ...STATUS, kind: "Service" }],
  },
  { ...CONFIGMAPS, singular: "configmap", namespaced: true, verbs: ALL_VERBS, shortNames: ["cm"], custom: false },
  {
    ...DEPLOYMENTS,
    singular: "deployment",
    namespaced: true,
    verbs: ALL_VERBS,
    shortNames: ["deploy"],
    categories: ["all"],
    custom: false,
    subresources: [
      { name: "scale", group: "autoscaling", version: "v1", kind: "Scale", verbs: ["get", "patch", "update"] },
      { ...STATUS, kind: "Deployment" },
    ],
  },
  ...CHAOS_KINDS.map(
    ([kind, plural]): ServedResource => ({
      group: "chaos-mesh.org",
      version: "v1alpha1",
      plural,
      kind,
      singular: plural,
      namespaced: true,
      verbs: ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"],
      custom: true,
    }),
  ),
];

interface WatchEvent {
  readonly rv: number;
  readonly key: string;
  readonly type: "ADDED" | "MODIFIED" | "DELETED";
  readonly object: KubeObject;
}

interface OpenWatch {
  readonly key: string;
  readonly namespace: string | null;
  readonly selector: Selector;
  readonly res: ServerResponse;
}

/** Returns causes when the object is invalid (a 422), else an empty list. */
export type Validator = (obj: KubeObject) => string[];

type Selector = (labels: Record<string, string> | undefined) => boolean;

const clone = <T>(x: T): T => structuredClone(x);

export class FakeApiServer {
  readonly requests: RecordedRequest[] = [];
  /** Per `group/plural`: checked on create and on every patch's result (422 with the causes). */
  readonly validators = new Map<string, Validator>();
  /** Called after an object is really deleted (a test's ReplicaSet replaces a pod here). */
  onDeleted: ((ref: ResourceRef, obj: KubeObject) => void) | null = null;
  /**
   * Called after a client's write was stored (never for a dry run, a refused or a failed
   * one), before the answer is sent: what a controller watching the object would react to.
   * The local testbed's API facade (cluster/local/kube-facade.ts) maps these onto real
   * processes. `object` is the stored object (for a delete: the marked one, or the last
   * state of a removed one); `sub` is `scale` for a write through the scale subresource.
   */
  onWrite: ((w: ClientWrite) => void) | null = null;
  private rv = 100;
  /** Watches from a resourceVersion below this get 410 Expired. */
  private compactedRv = 0;
  private readonly store = new Map<string, Map<string, KubeObject>>();
  /** By `group/plural`: what the routes and discovery know. */
  private readonly served = new Map<string, ServedResource>();
  private readonly held: { match: Match; answer: HeldAnswer & { ready: () => void; released: Promise<void> } }[] = [];
  private readonly history: WatchEvent[] = [];
  private readonly watches = new Set<OpenWatch>();
  private readonly failures: { match: Match; failure: QueuedFailure; left: number }[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly started = Date.now();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {
    for (const r of DEFAULT_SERVED) this.serve(r);
  }

  /** Serves another resource (routes and discovery). */
  serve(r: ServedResource): void {
    this.served.set(keyOf(r), r);
  }

  static async start(): Promise<FakeApiServer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const fake = new FakeApiServer(server, `http://127.0.0.1:${port}`);
    server.on("connection", (s) => {
      fake.sockets.add(s);
      s.on("close", () => fake.sockets.delete(s));
    });
    server.on("request", (req, res) => {
      fake.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) fake.status(res, 500, "InternalError", String(err));
        else res.destroy();
      });
    });
    return fake;
  }

  async stop(): Promise<void> {
    for (const h of this.held) h.answer.release();
    for (const w of this.watches) w.res.destroy();
    this.watches.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A kubeconfig (YAML text) pointing at this server, for `KubeConfig.loadFromString`. */
  kubeconfig(namespace = "default"): string {
    return [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      // client-node 1.x refuses plain HTTP unless TLS verification is off.
      `- name: fake\n  cluster:\n    server: ${this.url}\n    insecure-skip-tls-verify: true`,
      "users:",
      "- name: tester\n  user:\n    token: fake-token",
      "contexts:",
      `- name: fake\n  context:\n    cluster: fake\n    user: tester\n    namespace: ${namespace}`,
      "current-context: fake",
      "",
    ].join("\n");
  }

  // ---------------------------------------------------------------------------
  // The test's side: seed, change and inspect the store, queue failures.

  /** Stores `obj` as new (uid, resourceVersion, creationTimestamp filled in); emits ADDED. */
  put(ref: ResourceRef, obj: KubeObject): KubeObject {
    if (!this.served.has(keyOf(ref))) {
      // Seeding a kind the server does not know installs it, as applying its CRD would.
      this.serve({
        ...ref,
        singular: ref.kind.toLowerCase(),
        namespaced: true,
        verbs: ALL_VERBS,
        custom: ref.group !== "" && !ref.group.endsWith("k8s.io") && ref.group !== "apps",
      });
    }
    const o = clone(obj);
    o.metadata.uid ??= randomUUID();
    o.metadata.creationTimestamp ??= new Date().toISOString();
    return this.commit(ref, o, "ADDED");
  }

  get(ref: ResourceRef, namespace: string, name: string): KubeObject | undefined {
    const o = this.bucket(ref).get(`${namespace}/${name}`);
    return o === undefined ? undefined : clone(o);
  }

  list(ref: ResourceRef, namespace?: string): KubeObject[] {
    return [...this.bucket(ref).values()]
      .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
      .map(clone);
  }

  /** Changes a stored object as a controller would (new resourceVersion; emits MODIFIED). */
  update(ref: ResourceRef, namespace: string, name: string, change: (o: KubeObject) => void): KubeObject {
    const cur = this.bucket(ref).get(`${namespace}/${name}`);
    if (cur === undefined) throw new Error(`fake: no ${ref.plural} ${namespace}/${name}`);
    const o = clone(cur);
    change(o);
    const finalizers = (o.metadata.finalizers as string[] | undefined) ?? [];
    if (o.metadata.deletionTimestamp !== undefined && finalizers.length === 0) {
      this.remove(ref, namespace, name);
      return o;
    }
    return this.commit(ref, o, "MODIFIED");
  }

  /** Deletes a stored object (emits DELETED; calls `onDeleted`). */
  remove(ref: ResourceRef, namespace: string, name: string): void {
    const b = this.bucket(ref);
    const cur = b.get(`${namespace}/${name}`);
    if (cur === undefined) return;
    b.delete(`${namespace}/${name}`);
    const o = clone(cur);
    o.metadata.resourceVersion = String(++this.rv);
    this.emit({ rv: this.rv, key: keyOf(ref), type: "DELETED", object: o });
    this.onDeleted?.(ref, clone(o));
  }

  /**
   * The next `times` requests matching `match` fail with `failure`: before anything else
   * happens, or with `afterApplying` once the request has been carried out.
   */
  failNext(match: Match, failure: QueuedFailure, times = 1): void {
    this.failures.push({ match, failure, left: times });
  }

  /** Drops every queued failure: a test's outage is over. */
  clearFailures(): void {
    this.failures.length = 0;
  }

  /**
   * The next request matching `match` is carried out at once and its answer held back until
   * `release()` (or `stop()`): a write that went through while its client timed out.
   */
  holdNext(match: Match): HeldAnswer {
    let ready!: () => void;
    let release!: () => void;
    const applied = new Promise<void>((r) => {
      ready = r;
    });
    const released = new Promise<void>((r) => {
      release = r;
    });
    const answer = { applied, release, ready, released };
    this.held.push({ match, answer });
    return answer;
  }

  /**
   * Forgets the history up to now (as etcd compaction does): every open watch gets an ERROR
   * event with a 410 Expired Status and is closed, and a watch from an older
   * resourceVersion gets the same.
   */
  expireWatches(): void {
    this.compactedRv = this.rv;
    this.history.length = 0;
    for (const w of this.watches) {
      w.res.end(`${JSON.stringify({ type: "ERROR", object: expired(this.rv) })}\n`);
    }
    this.watches.clear();
  }

  /** Cuts every open watch connection without a word (a network failure, a restarting API server). */
  dropWatches(): void {
    for (const w of this.watches) w.res.socket?.destroy();
    this.watches.clear();
  }

  /** Open watch connections now. */
  get watchCount(): number {
    return this.watches.size;
  }

  /** Requests so far that match (method and a path substring). */
  requestsTo(match: Match): RecordedRequest[] {
    return this.requests.filter((r) => matches(match, r.method, r.path, r.query.watch === "true"));
  }

  // ---------------------------------------------------------------------------

  private bucket(ref: ResourceRef): Map<string, KubeObject> {
    const k = keyOf(ref);
    let b = this.store.get(k);
    if (b === undefined) {
      b = new Map();
      this.store.set(k, b);
    }
    return b;
  }

  private commit(ref: ResourceRef, o: KubeObject, type: "ADDED" | "MODIFIED"): KubeObject {
    o.metadata.resourceVersion = String(++this.rv);
    this.bucket(ref).set(`${o.metadata.namespace ?? ""}/${o.metadata.name}`, o);
    this.emit({ rv: this.rv, key: keyOf(ref), type, object: clone(o) });
    return clone(o);
  }

  private emit(e: WatchEvent): void {
    this.history.push(e);
    for (const w of this.watches) {
      if (watchSees(w, e)) w.res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    const query = Object.fromEntries(url.searchParams);
    const contentType = (req.headers["content-type"] ?? "").split(";")[0]!.trim();
    const raw = await readBody(req);
    let body: unknown = raw === "" ? undefined : raw;
    if (raw !== "") {
      try {
        body = JSON.parse(raw);
      } catch {
        // Kept as text: the assertion shows what was sent.
      }
    }
    const method = req.method ?? "GET";
    const watch = query.watch === "true" || query.watch === "1";
    this.requests.push({ method, path: url.pathname, query, contentType, body, atMs: Date.now() - this.started });
    const r: Request = { method, path: url.pathname, query, contentType, body, watch };

    // A watch has no single answer to hold or replace: only failures before it apply to one.
    const queued = this.failures.find(
      (f) => f.left > 0 && matches(f.match, method, url.pathname, watch) && !(watch && f.failure.afterApplying),
    );
    if (queued !== undefined) queued.left--;
    const heldAt = watch ? -1 : this.held.findIndex((h) => matches(h.match, method, url.pathname, watch));
    const held = heldAt >= 0 ? this.held.splice(heldAt, 1)[0]!.answer : null;
    if (queued !== undefined && !queued.failure.afterApplying) return this.fail(res, queued.failure);
    if (held === null && queued === undefined) return this.route(r, res);
    // Carried out into a recorder; the answer is sent later (held) or replaced (afterApplying).
    const rec = new RecordedAnswer();
    await this.route(r, rec as unknown as ServerResponse);
    held?.ready();
    if (held !== null) await held.released;
    if (queued !== undefined) return this.fail(res, queued.failure);
    rec.replay(res);
  }

  private fail(res: ServerResponse, f: QueuedFailure): void {
    if (f.retryAfterS !== undefined) res.setHeader("Retry-After", String(f.retryAfterS));
    this.status(res, f.status, f.reason, f.message ?? f.reason, {
      ...(f.retryAfterS !== undefined ? { retryAfterSeconds: f.retryAfterS } : {}),
    });
  }

  private async route(r: Request, res: ServerResponse): Promise<void> {
    const { method, query, contentType, body, watch } = r;
    if (method === "GET" && this.discovery(r.path, res)) return;
    const route = parsePath(r.path);
    const ref = route === null ? undefined : this.served.get(`${route.group}/${route.plural}`);
    if (route === null || ref === undefined || ref.version !== route.version) {
      this.status(res, 404, "NotFound", "the server could not find the requested resource");
      return;
    }
    const dryRun = query.dryRun === "All";
    if (query.dryRun !== undefined && !dryRun) {
      this.status(res, 400, "BadRequest", `Invalid dry run value: ${query.dryRun}`);
      return;
    }
    const id = `${route.namespace ?? ""}/${route.name ?? ""}`;
    const b = this.bucket(ref);

    if (route.name === undefined) {
      if (method === "GET" && watch) return this.serveWatch(ref, route.namespace, query, res);
      if (method === "GET") return this.serveList(ref, route.namespace, query, res);
      if (method === "POST" && route.namespace !== null) {
        return this.create(ref, route.namespace, body, dryRun, res);
      }
      this.status(res, 405, "MethodNotAllowed", `${method} is not supported on the collection`);
      return;
    }

    const cur = b.get(id);
    const noun = route.sub === "scale" ? `${ref.plural}.${ref.group || "core"}` : `${ref.plural}`;
    if (cur === undefined) {
      this.status(res, 404, "NotFound", `${noun} "${route.name}" not found`, {
        name: route.name,
        kind: ref.plural,
        ...(ref.group ? { group: ref.group } : {}),
      });
      return;
    }

    if (route.sub === "scale") {
      if (ref.plural !== "deployments") {
        this.status(res, 404, "NotFound", "the server could not find the requested resource");
        return;
      }
      if (method === "GET") return json(res, 200, toScale(cur));
      if (method === "PATCH") {
        const patched = applyPatch(toScale(cur), contentType, body, { kind: "Scale", custom: false });
        if (typeof patched === "string") return this.patchError(res, patched);
        if (stale(patched, cur)) return this.modified(res, noun, route.name);
        const replicas = (patched.spec as Json | undefined)?.replicas;
        if (!Number.isInteger(replicas) || (replicas as number) < 0) {
          return this.invalid(res, "Scale", route.name, [
            `spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
          ]);
        }
        const next = clone(cur);
        (next.spec as Json).replicas = replicas;
        if (dryRun) return json(res, 200, toScale(next));
        const saved = this.commit(ref, next, "MODIFIED");
        this.onWrite?.({ ref, verb: "patch", object: clone(saved), previous: clone(cur), sub: "scale" });
        return json(res, 200, toScale(saved));
      }
      this.status(res, 405, "MethodNotAllowed", `${method} is not supported on scale`);
      return;
    }
    if (route.sub === "status" && method !== "GET") {
      this.status(res, 405, "MethodNotAllowed", `${method} is not supported on status`);
      return;
    }
    // The Eviction subresource (policy/v1): a delete through the API's disruption checks; this
    // double has no PodDisruptionBudgets, so an eviction is the delete with its deleteOptions,
    // answered 201 with a Success Status.
    const eviction = route.sub === "eviction" && ref.plural === "pods" && method === "POST";
    if (route.sub !== undefined && route.sub !== "status" && !eviction) {
      this.status(res, 404, "NotFound", "the server could not find the requested resource");
      return;
    }

    if (method === "GET") return json(res, 200, cur);
    if (method === "DELETE" || eviction) {
      const options = (eviction ? (body as Json | undefined)?.deleteOptions : body) as Json | undefined;
      const pre = (options?.preconditions ?? {}) as { uid?: string; resourceVersion?: string };
      if (pre.uid !== undefined && pre.uid !== cur.metadata.uid) {
        this.status(
          res,
          409,
          "Conflict",
          `Operation cannot be fulfilled on ${noun} "${route.name}": Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cur.metadata.uid}`,
          { name: route.name, kind: ref.plural },
        );
        return;
      }
      if (pre.resourceVersion !== undefined && pre.resourceVersion !== cur.metadata.resourceVersion) {
        this.status(
          res,
          409,
          "Conflict",
          `Operation cannot be fulfilled on ${noun} "${route.name}": Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${cur.metadata.resourceVersion}`,
          { name: route.name, kind: ref.plural },
        );
        return;
      }
      const answer = (obj: KubeObject) =>
        eviction
          ? json(res, 201, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 })
          : json(res, 200, obj);
      if (dryRun) return answer(cur);
      // With finalizers (Chaos Mesh puts one on every chaos object), a delete only marks the
      // object; it goes once its controller has removed them (update() below).
      const finalizers = (cur.metadata.finalizers as string[] | undefined) ?? [];
      if (finalizers.length > 0) {
        const marked = clone(cur);
        marked.metadata.deletionTimestamp ??= new Date().toISOString();
        const saved = this.commit(ref, marked, "MODIFIED");
        this.onWrite?.({ ref, verb: "delete", object: clone(saved), previous: clone(cur) });
        return answer(saved);
      }
      this.remove(ref, route.namespace ?? "", route.name);
      this.onWrite?.({ ref, verb: "delete", object: clone(cur), previous: clone(cur) });
      return answer(cur);
    }
    if (method === "PATCH") {
      const patched = applyPatch(cur, contentType, body, ref);
      if (typeof patched === "string") return this.patchError(res, patched);
      const m = (patched as KubeObject).metadata;
      if (stale(patched, cur)) return this.modified(res, noun, route.name);
      if (m?.uid !== cur.metadata.uid) {
        this.status(
          res,
          409,
          "Conflict",
          `Operation cannot be fulfilled on ${noun} "${route.name}": the UID in the precondition (${String(m?.uid)}) does not match the UID in record (${cur.metadata.uid}). The object might have been deleted and then recreated`,
          { name: route.name, kind: ref.plural },
        );
        return;
      }
      const causes = this.validators.get(keyOf(ref))?.(patched as KubeObject) ?? [];
      if (causes.length > 0) return this.invalid(res, ref.kind, route.name, causes);
      if (dryRun) return json(res, 200, patched);
      const saved = this.commit(ref, patched as KubeObject, "MODIFIED");
      this.onWrite?.({ ref, verb: "patch", object: clone(saved), previous: clone(cur) });
      return json(res, 200, saved);
    }
    this.status(res, 405, "MethodNotAllowed", `${method} is not supported`);
  }

  private create(ref: ResourceRef, namespace: string, body: unknown, dryRun: boolean, res: ServerResponse): void {
    if (typeof body !== "object" || body === null) {
      this.status(res, 400, "BadRequest", "the body of the request was in an unknown format");
      return;
    }
    const o = clone(body) as KubeObject;
    const name = o.metadata?.name;
    if (typeof name !== "string" || name === "") {
      this.invalid(res, ref.kind, "", ["metadata.name: Required value: name or generateName is required"]);
      return;
    }
    if (o.metadata.namespace !== undefined && o.metadata.namespace !== namespace) {
      this.status(
        res,
        400,
        "BadRequest",
        "the namespace of the provided object does not match the namespace sent on the request",
      );
      return;
    }
    o.metadata.namespace = namespace;
    if (this.bucket(ref).has(`${namespace}/${name}`)) {
      this.status(res, 409, "AlreadyExists", `${ref.plural}.${ref.group} "${name}" already exists`, {
        name,
        kind: ref.plural,
      });
      return;
    }
    const causes = this.validators.get(keyOf(ref))?.(o) ?? [];
    if (causes.length > 0) {
      this.invalid(res, ref.kind, name, causes);
      return;
    }
    o.metadata.uid = randomUUID();
    o.metadata.creationTimestamp = new Date().toISOString();
    if (dryRun) {
      json(res, 201, o);
      return;
    }
    const saved = this.commit(ref, o, "ADDED");
    this.onWrite?.({ ref, verb: "create", object: clone(saved), previous: null });
    json(res, 201, saved);
  }

  private serveList(ref: ResourceRef, namespace: string | null, query: Record<string, string>, res: ServerResponse) {
    const selector = parseSelector(query.labelSelector);
    const items = [...this.bucket(ref).values()].filter(
      (o) => (namespace === null || o.metadata.namespace === namespace) && selector(o.metadata.labels),
    );
    json(res, 200, {
      apiVersion: ref.group ? `${ref.group}/${ref.version}` : ref.version,
      kind: `${ref.kind}List`,
      metadata: { resourceVersion: String(this.rv) },
      items,
    });
  }

  private serveWatch(ref: ResourceRef, namespace: string | null, query: Record<string, string>, res: ServerResponse) {
    const from = Number(query.resourceVersion ?? "0");
    res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
    res.flushHeaders();
    if (Number.isFinite(from) && from > 0 && from < this.compactedRv) {
      res.end(`${JSON.stringify({ type: "ERROR", object: expired(from) })}\n`);
      return;
    }
    const w: OpenWatch = { key: keyOf(ref), namespace, selector: parseSelector(query.labelSelector), res };
    for (const e of this.history) {
      if (e.rv > from && watchSees(w, e)) res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
    }
    this.watches.add(w);
    res.on("close", () => this.watches.delete(w));
  }

  private status(res: ServerResponse, code: number, reason: string, message: string, details?: Json): void {
    json(res, code, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message,
      reason,
      ...(details && Object.keys(details).length > 0 ? { details } : {}),
      code,
    });
  }

  private invalid(res: ServerResponse, kind: string, name: string, causes: string[]): void {
    this.status(res, 422, "Invalid", `${kind} "${name}" is invalid: ${causes.join(", ")}`, {
      name,
      kind,
      causes: causes.map((message) => ({ reason: "FieldValueInvalid", message })),
    });
  }

  /** The 409 of optimistic concurrency: the patch named a resourceVersion that is not the object's. */
  private modified(res: ServerResponse, noun: string, name: string): void {
    this.status(
      res,
      409,
      "Conflict",
      `Operation cannot be fulfilled on ${noun} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      { name, kind: noun.split(".")[0]! },
    );
  }

  /** Answers a discovery document for `path`; false when `path` is not one. */
  private discovery(path: string, res: ServerResponse): boolean {
    const p = path.split("/").filter((x) => x !== "");
    const served = [...this.served.values()];
    const groups = [...new Set(served.filter((r) => r.group !== "").map((r) => r.group))];
    const groupDoc = (g: string) => {
      const versions = [...new Set(served.filter((r) => r.group === g).map((r) => r.version))];
      const gv = (v: string) => ({ groupVersion: `${g}/${v}`, version: v });
      return { name: g, versions: versions.map(gv), preferredVersion: gv(versions[0]!) };
    };
    if (p.length === 1 && p[0] === "api") {
      const host = new URL(this.url).host;
      json(res, 200, {
        kind: "APIVersions",
        versions: ["v1"],
        serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: host }],
      });
      return true;
    }
    if (p.length === 1 && p[0] === "apis") {
      json(res, 200, { kind: "APIGroupList", apiVersion: "v1", groups: groups.map(groupDoc) });
      return true;
    }
    if (p.length === 2 && p[0] === "apis" && groups.includes(p[1]!)) {
      json(res, 200, { kind: "APIGroup", apiVersion: "v1", ...groupDoc(p[1]!) });
      return true;
    }
    const gv =
      p.length === 2 && p[0] === "api"
        ? { group: "", version: p[1]! }
        : p.length === 3 && p[0] === "apis"
          ? { group: p[1]!, version: p[2]! }
          : null;
    if (gv === null) return false;
    const here = served.filter((r) => r.group === gv.group && r.version === gv.version);
    if (here.length === 0) return false;
    json(res, 200, {
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion: gv.group === "" ? gv.version : `${gv.group}/${gv.version}`,
      resources: here.flatMap((r) => [
        {
          name: r.plural,
          singularName: r.singular,
          namespaced: r.namespaced,
          kind: r.kind,
          verbs: [...r.verbs],
          ...(r.shortNames ? { shortNames: [...r.shortNames] } : {}),
          ...(r.categories ? { categories: [...r.categories] } : {}),
        },
        ...(r.subresources ?? []).map((sub) => ({
          name: `${r.plural}/${sub.name}`,
          singularName: "",
          namespaced: r.namespaced,
          ...(sub.group !== undefined ? { group: sub.group } : {}),
          ...(sub.version !== undefined ? { version: sub.version } : {}),
          kind: sub.kind,
          verbs: [...sub.verbs],
        })),
      ]),
    });
    return true;
  }

  private patchError(res: ServerResponse, problem: string): void {
    if (problem.startsWith("415")) this.status(res, 415, "UnsupportedMediaType", problem.slice(4));
    else if (problem.startsWith("422")) this.status(res, 422, "Invalid", problem.slice(4));
    else this.status(res, 400, "BadRequest", problem);
  }
}

// ---------------------------------------------------------------------------

function keyOf(ref: ResourceRef): string {
  return `${ref.group}/${ref.plural}`;
}

function expired(rv: number): Json {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: `too old resource version: ${rv} (${rv + 1})`,
    reason: "Expired",
    code: 410,
  };
}

function watchSees(w: OpenWatch, e: WatchEvent): boolean {
  return (
    w.key === e.key &&
    (w.namespace === null || e.object.metadata.namespace === w.namespace) &&
    w.selector(e.object.metadata.labels)
  );
}

function matches(m: Match, method: string, path: string, watch: boolean): boolean {
  return (
    (m.method === undefined || m.method === method) &&
    (m.path === undefined || path.includes(m.path)) &&
    (m.watch === undefined || m.watch === watch)
  );
}

interface Route {
  readonly group: string;
  readonly version: string;
  readonly namespace: string | null;
  readonly plural: string;
  readonly name?: string;
  readonly sub?: string;
}

function parsePath(path: string): Route | null {
  const p = path.split("/").filter((s) => s !== "");
  let group: string;
  let version: string;
  let rest: string[];
  if (p[0] === "api" && p.length >= 2) {
    group = "";
    version = p[1]!;
    rest = p.slice(2);
  } else if (p[0] === "apis" && p.length >= 3) {
    group = p[1]!;
    version = p[2]!;
    rest = p.slice(3);
  } else return null;
  let namespace: string | null = null;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  }
  if (rest.length < 1 || rest.length > 3) return null;
  return {
    group,
    version,
    namespace,
    plural: rest[0]!,
    ...(rest[1] !== undefined ? { name: rest[1] } : {}),
    ...(rest[2] !== undefined ? { sub: rest[2] } : {}),
  };
}

function toScale(dep: KubeObject): Json {
  const spec = (dep.spec ?? {}) as Json;
  const status = (dep.status ?? {}) as Json;
  const sel = ((spec.selector as Json | undefined)?.matchLabels ?? {}) as Record<string, string>;
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: {
      name: dep.metadata.name,
      namespace: dep.metadata.namespace,
      uid: dep.metadata.uid,
      resourceVersion: dep.metadata.resourceVersion,
      creationTimestamp: dep.metadata.creationTimestamp,
    },
    spec: { replicas: spec.replicas ?? 1 },
    status: {
      replicas: status.replicas ?? 0,
      selector: Object.entries(sel)
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
    },
  };
}

/**
 * The patched object, or a problem string ("415 ...", "422 ...", else a 400). The 415's media
 * types are the API server's for the resource (a custom resource has no strategic merge);
 * server-side apply (`application/apply-patch+yaml`) is listed there but not implemented here:
 * the backend never sends it.
 */
function applyPatch(
  target: Json,
  contentType: string,
  body: unknown,
  res: { readonly kind: string; readonly custom: boolean },
): Json | string {
  const strategic = !res.custom && hasStrategicSchema(res.kind);
  switch (contentType) {
    case "application/merge-patch+json":
      if (typeof body !== "object" || body === null || Array.isArray(body)) return "the patch is not a JSON object";
      return mergePatch(clone(target), body as Json) as Json;
    case "application/strategic-merge-patch+json":
      if (!strategic) break;
      if (typeof body !== "object" || body === null || Array.isArray(body)) return "the patch is not a JSON object";
      try {
        return strategicMerge(res.kind, target, body as Json);
      } catch (err) {
        if (err instanceof StrategicMergeError) return err.message;
        throw err;
      }
    case "application/json-patch+json":
      if (!Array.isArray(body)) return "the JSON patch is not an array of operations";
      return jsonPatch(clone(target), body as Json[]);
  }
  const accepted = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
    ...(strategic ? ["application/strategic-merge-patch+json"] : []),
  ];
  return `415 the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`;
}

/** A patch that set `metadata.resourceVersion` to another than the object's: a stale write. */
function stale(patched: Json, cur: KubeObject): boolean {
  const rv = (patched.metadata as { resourceVersion?: unknown } | undefined)?.resourceVersion;
  return rv !== undefined && rv !== cur.metadata.resourceVersion;
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
  const out: Json = typeof target === "object" && target !== null && !Array.isArray(target) ? (target as Json) : {};
  for (const [k, v] of Object.entries(patch as Json)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function jsonPatch(doc: Json, ops: Json[]): Json | string {
  for (const op of ops) {
    const path = String(op.path ?? "");
    const parts = path
      .split("/")
      .slice(1)
      .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = parts.pop();
    if (last === undefined) return `422 invalid JSON patch path ${JSON.stringify(path)}`;
    let parent: unknown = doc;
    for (const p of parts) parent = (parent as Json | undefined)?.[p];
    if (typeof parent !== "object" || parent === null) return `422 the path ${path} does not exist`;
    const obj = parent as Json;
    switch (op.op) {
      case "add":
      case "replace":
        if (op.op === "replace" && !(last in obj)) return `422 the path ${path} does not exist`;
        obj[last] = op.value;
        break;
      case "remove":
        if (!(last in obj)) return `422 the path ${path} does not exist`;
        delete obj[last];
        break;
      case "test":
        if (JSON.stringify(obj[last]) !== JSON.stringify(op.value)) {
          return `422 the test of ${path} failed: expected ${JSON.stringify(op.value)}, found ${JSON.stringify(obj[last])}`;
        }
        break;
      default:
        return `422 unsupported JSON patch operation ${JSON.stringify(op.op)}`;
    }
  }
  return doc;
}

/** A label selector (`a=b,c!=d,e,!f`) as a predicate. */
export function parseSelector(text: string | undefined): Selector {
  if (text === undefined || text.trim() === "") return () => true;
  const terms = text.split(",").map((t) => t.trim());
  const preds = terms.map((t): Selector => {
    let m = /^([^!=]+)!=(.*)$/.exec(t);
    if (m) return (l) => l?.[m![1]!.trim()] !== m![2]!.trim();
    m = /^([^!=]+)==?(.*)$/.exec(t);
    if (m) return (l) => l?.[m![1]!.trim()] === m![2]!.trim();
    if (t.startsWith("!")) return (l) => l?.[t.slice(1)] === undefined;
    return (l) => l?.[t] !== undefined;
  });
  return (l) => preds.every((p) => p(l));
}

/** What one request was carried out as, for the route handlers. */
interface Request {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly contentType: string;
  readonly body: unknown;
  readonly watch: boolean;
}

/**
 * Stands for a `ServerResponse` while a request is carried out whose answer is replaced or
 * held (never a watch): records the status, headers and body that `json()` writes.
 */
class RecordedAnswer {
  headersSent = false;
  private code = 200;
  private readonly headers: Record<string, string | number> = {};
  private text = "";

  setHeader(k: string, v: string | number): void {
    this.headers[k] = v;
  }

  writeHead(code: number, headers?: Record<string, string | number>): this {
    this.code = code;
    Object.assign(this.headers, headers);
    this.headersSent = true;
    return this;
  }

  end(text?: string): void {
    this.text = text ?? "";
  }

  replay(res: ServerResponse): void {
    res.writeHead(this.code, this.headers);
    res.end(this.text);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      s += c;
    });
    req.on("end", () => resolve(s));
    req.on("error", reject);
  });
}

function json(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}
