/**
 * A Kubernetes API server double at the HTTP level, for tests of the cluster backend: the
 * real `@kubernetes/client-node` calls go over a real socket to this server, which answers
 * with the API server's semantics for the subset the backend uses:
 * - objects in a store with a global `resourceVersion`, `uid`s and creation timestamps;
 * - errors as `Status` objects (404 NotFound, 409 AlreadyExists, 409 Conflict on a stale uid
 *   precondition or a patch naming another uid, 422 Invalid with causes, 415 on an unknown
 *   patch type), plus failures a test queues (429 with Retry-After, 5xx);
 * - `dryRun=All` on writes: validated and answered, never stored;
 * - finalizers: a delete of an object that has some only sets its `deletionTimestamp`; it
 *   goes when a test (standing in for its controller) removes them with `update`;
 * - patches: merge (RFC 7386), strategic merge (as merge: enough for labels and replicas)
 *   and JSON patch (add, remove, replace, test);
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
  private readonly refs = new Map<string, ResourceRef>();
  private readonly history: WatchEvent[] = [];
  private readonly watches = new Set<OpenWatch>();
  private readonly failures: { match: Match; failure: QueuedFailure; left: number }[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly started = Date.now();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

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

  /** The next `times` requests matching `match` fail with `failure` (before anything else happens). */
  failNext(match: Match, failure: QueuedFailure, times = 1): void {
    this.failures.push({ match, failure, left: times });
  }

  /** Drops every queued failure: a test's outage is over. */
  clearFailures(): void {
    this.failures.length = 0;
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
    this.refs.set(k, ref);
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

    const queued = this.failures.find((f) => f.left > 0 && matches(f.match, method, url.pathname, watch));
    if (queued !== undefined) {
      queued.left--;
      const f = queued.failure;
      if (f.retryAfterS !== undefined) res.setHeader("Retry-After", String(f.retryAfterS));
      this.status(res, f.status, f.reason, f.message ?? f.reason, {
        ...(f.retryAfterS !== undefined ? { retryAfterSeconds: f.retryAfterS } : {}),
      });
      return;
    }

    const route = parsePath(url.pathname);
    if (route === null) {
      this.status(res, 404, "NotFound", `the server could not find the requested resource (${url.pathname})`);
      return;
    }
    const ref = this.refs.get(`${route.group}/${route.plural}`) ?? {
      group: route.group,
      version: route.version,
      plural: route.plural,
      kind: guessKind(route.plural),
    };
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
        const patched = applyPatch(toScale(cur), contentType, body);
        if (typeof patched === "string") return this.patchError(res, patched);
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
      const patched = applyPatch(cur, contentType, body);
      if (typeof patched === "string") return this.patchError(res, patched);
      const m = (patched as KubeObject).metadata;
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

function guessKind(plural: string): string {
  const known: Record<string, string> = {
    pods: "Pod",
    services: "Service",
    deployments: "Deployment",
    configmaps: "ConfigMap",
    podchaos: "PodChaos",
    stresschaos: "StressChaos",
    networkchaos: "NetworkChaos",
  };
  return known[plural] ?? plural;
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

/** The patched object, or a problem string ("415 ...", "422 ...", else a 400). */
function applyPatch(target: Json, contentType: string, body: unknown): Json | string {
  switch (contentType) {
    case "application/merge-patch+json":
    case "application/strategic-merge-patch+json":
      if (typeof body !== "object" || body === null || Array.isArray(body)) return "the patch is not a JSON object";
      return mergePatch(clone(target), body as Json) as Json;
    case "application/json-patch+json":
      if (!Array.isArray(body)) return "the JSON patch is not an array of operations";
      return jsonPatch(clone(target), body as Json[]);
    default:
      return `415 the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got ${JSON.stringify(contentType)})`;
  }
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
