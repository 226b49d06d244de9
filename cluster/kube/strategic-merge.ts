/**
 * Strategic merge patch (`application/strategic-merge-patch+json`) as the API server applies
 * it to built-in kinds (k8s.io/apimachinery `strategicpatch`), for the HTTP fake and the
 * testbed's API facade. A JSON merge patch replaces every list; a strategic one merges the
 * lists the type declares with a merge key (`containers` by `name`, a container's `env` by
 * `name`, ...), so that a patch of one container's env keeps the container's image, its other
 * variables and the other containers. This is what the backend relies on when it patches the
 * load generator's env (cluster/chaos/resources.ts `loadSpikePatch`).
 *
 * Semantics implemented (the directives of the strategic merge patch design doc):
 * - maps merge recursively; `null` deletes a key; `$patch: replace` replaces the map,
 *   `$patch: delete` deletes it; `$retainKeys: [..]` keeps only those keys afterwards;
 * - a list with a merge key: each patch element merges into the element with the same key,
 *   or is appended; an element `{<key>: x, $patch: delete}` removes that element; an element
 *   `{$patch: replace}` makes the patch's list replace the whole list;
 *   `$setElementOrder/<field>` orders the result (listed keys first, the rest after);
 * - a list of primitives with strategy merge (`metadata.finalizers`): union, and
 *   `$deleteFromPrimitiveList/<field>` removes values;
 * - any other list is replaced, as in a merge patch.
 * Custom resources have no such schema: the API server answers 415 for a strategic merge
 * patch of one, and so does the fake (fake-apiserver.ts).
 */

type Json = Record<string, unknown>;

/** How a list field merges: by the key of its elements, or (`primitive`) as a set of values. */
type ListStrategy = { readonly key: string } | "primitive";

/** Merge keys of a PodSpec's lists and their elements' (k8s.io/api core/v1 `patchMergeKey`). */
const POD_SPEC: Readonly<Record<string, ListStrategy>> = {
  containers: { key: "name" },
  initContainers: { key: "name" },
  ephemeralContainers: { key: "name" },
  "containers.env": { key: "name" },
  "containers.ports": { key: "containerPort" },
  "containers.volumeMounts": { key: "mountPath" },
  "containers.volumeDevices": { key: "devicePath" },
  "initContainers.env": { key: "name" },
  "initContainers.ports": { key: "containerPort" },
  "initContainers.volumeMounts": { key: "mountPath" },
  volumes: { key: "name" },
  imagePullSecrets: { key: "name" },
  hostAliases: { key: "ip" },
  topologySpreadConstraints: { key: "topologyKey" },
  resourceClaims: { key: "name" },
  schedulingGates: { key: "name" },
};

const META: Readonly<Record<string, ListStrategy>> = {
  "metadata.finalizers": "primitive",
  "metadata.ownerReferences": { key: "uid" },
};

function under(prefix: string, table: Readonly<Record<string, ListStrategy>>): Record<string, ListStrategy> {
  return Object.fromEntries(Object.entries(table).map(([k, v]) => [`${prefix}.${k}`, v]));
}

/** Per kind: the list fields that merge (dotted paths, list indices left out). */
const SCHEMAS: Readonly<Record<string, Readonly<Record<string, ListStrategy>>>> = {
  Pod: { ...META, ...under("spec", POD_SPEC), "status.conditions": { key: "type" } },
  Deployment: {
    ...META,
    ...under("spec.template.spec", POD_SPEC),
    "spec.template.metadata.finalizers": "primitive",
    "status.conditions": { key: "type" },
  },
  Service: { ...META, "spec.ports": { key: "port" }, "status.conditions": { key: "type" } },
  ConfigMap: META,
  Scale: META,
};

/** Kinds whose strategic merge this module knows (the built-ins the fake serves). */
export function hasStrategicSchema(kind: string): boolean {
  return kind in SCHEMAS;
}

/** A malformed patch: the API server's 400 BadRequest. */
export class StrategicMergeError extends Error {}

/** `patch` applied to `target` (not modified) by the strategic merge rules of `kind`. */
export function strategicMerge(kind: string, target: Json, patch: Json): Json {
  const schema = SCHEMAS[kind];
  if (schema === undefined) throw new StrategicMergeError(`no strategic merge schema for kind ${kind}`);
  return mergeMap(structuredClone(target), patch, "", schema);
}

function isMap(x: unknown): x is Json {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function mergeMap(target: Json, patch: Json, path: string, schema: Readonly<Record<string, ListStrategy>>): Json {
  const directive = patch.$patch;
  if (directive === "replace") {
    const { $patch: _, ...rest } = patch;
    return stripDirectives(rest) as Json;
  }
  if (directive !== undefined) throw new StrategicMergeError(`Unknown patch type: ${String(directive)} in map`);
  const out = target;
  const orders: [string, unknown][] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (k === "$retainKeys") continue;
    if (k.startsWith("$setElementOrder/")) {
      orders.push([k.slice("$setElementOrder/".length), v]);
      continue;
    }
    if (k.startsWith("$deleteFromPrimitiveList/")) {
      const field = k.slice("$deleteFromPrimitiveList/".length);
      if (!Array.isArray(v)) throw new StrategicMergeError(`${k} must be a list`);
      const cur = out[field];
      if (Array.isArray(cur)) out[field] = cur.filter((x) => !v.some((d) => JSON.stringify(d) === JSON.stringify(x)));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    const p = join(path, k);
    if (isMap(v)) {
      if (v.$patch === "delete") {
        delete out[k];
        continue;
      }
      out[k] = mergeMap(isMap(out[k]) ? (out[k] as Json) : {}, v, p, schema);
    } else if (Array.isArray(v)) {
      out[k] = mergeList(out[k], v, p, schema);
    } else {
      out[k] = v;
    }
  }
  for (const [field, order] of orders) {
    const strategy = schema[join(path, field)];
    if (!Array.isArray(order)) throw new StrategicMergeError(`$setElementOrder/${field} must be a list`);
    if (Array.isArray(out[field]) && strategy !== undefined)
      out[field] = reorder(out[field] as unknown[], order, strategy);
  }
  const retain = patch.$retainKeys;
  if (retain !== undefined) {
    if (!Array.isArray(retain)) throw new StrategicMergeError("$retainKeys must be a list");
    for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k];
  }
  return out;
}

function mergeList(
  target: unknown,
  patch: unknown[],
  path: string,
  schema: Readonly<Record<string, ListStrategy>>,
): unknown[] {
  const strategy = schema[path];
  const cur = Array.isArray(target) ? target : [];
  if (strategy === undefined) return stripDirectives(patch) as unknown[];
  if (strategy === "primitive") {
    const out = [...cur];
    for (const v of patch) if (!out.some((x) => JSON.stringify(x) === JSON.stringify(v))) out.push(v);
    return out;
  }
  const key = strategy.key;
  if (patch.some((e) => isMap(e) && e.$patch === "replace")) {
    return stripDirectives(patch.filter((e) => !(isMap(e) && e.$patch === "replace"))) as unknown[];
  }
  const out = cur.map((e) => (isMap(e) ? structuredClone(e) : e));
  for (const e of patch) {
    if (!isMap(e))
      throw new StrategicMergeError(`${path}: a list with merge key ${key} holds maps, got ${JSON.stringify(e)}`);
    if (!(key in e)) {
      throw new StrategicMergeError(`map: ${JSON.stringify(e)} does not contain declared merge key: ${key}`);
    }
    const at = out.findIndex((x) => isMap(x) && JSON.stringify(x[key]) === JSON.stringify(e[key]));
    if (e.$patch === "delete") {
      if (at >= 0) out.splice(at, 1);
      continue;
    }
    if (e.$patch !== undefined) throw new StrategicMergeError(`Unknown patch type: ${String(e.$patch)} in list`);
    if (at >= 0) out[at] = mergeMap(out[at] as Json, e, path, schema);
    else out.push(mergeMap({}, e, path, schema));
  }
  return out;
}

function reorder(list: unknown[], order: unknown[], strategy: ListStrategy): unknown[] {
  const id = (x: unknown) => JSON.stringify(strategy === "primitive" ? x : isMap(x) ? x[strategy.key] : x);
  const wanted = order.map((o) => JSON.stringify(strategy === "primitive" ? o : isMap(o) ? o[strategy.key] : o));
  const listed = wanted.flatMap((w) => list.filter((x) => id(x) === w));
  return [...listed, ...list.filter((x) => !wanted.includes(id(x)))];
}

/** A value from a patch as stored: without `$` directives. */
function stripDirectives(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(stripDirectives);
  if (!isMap(x)) return x;
  return Object.fromEntries(
    Object.entries(x)
      .filter(([k]) => !k.startsWith("$"))
      .map(([k, v]) => [k, stripDirectives(v)]),
  );
}
