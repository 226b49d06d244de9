/**
 * Validates a Chaos Mesh object the way an API server with Chaos Mesh's CRDs installed does:
 * against the CRD's `spec.versions[].schema.openAPIV3Schema` (the copies in `fixtures/crd/`,
 * unchanged from upstream), with ajv 8. For tests and for the Kubernetes API fake (a 422 for
 * an object the real server would refuse); production code never needs it.
 *
 * Strict by default, like `kubectl apply --validate=strict` (server-side `fieldValidation=Strict`):
 * a field the schema does not know is an error. Without it the server prunes such a field in
 * silence, and the fault that a misspelt or outdated field was meant to shape (Chaos Mesh's
 * docs still show `stressors.memory.time`, which its CRD lacks) runs without it.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type AnySchemaObject, type ErrorObject, type ValidateFunction } from "ajv";
import { parse } from "yaml";
import { CHAOS_API_VERSION, CHAOS_KINDS, type ChaosKind } from "./resources.ts";

const CRD_DIR = join(import.meta.dirname, "fixtures", "crd");
const CRD_FILES: Record<ChaosKind, string> = {
  PodChaos: "chaos-mesh.org_podchaos.yaml",
  StressChaos: "chaos-mesh.org_stresschaos.yaml",
  NetworkChaos: "chaos-mesh.org_networkchaos.yaml",
};

/** One reason an object is refused: a JSON pointer into it and what was expected there. */
export interface CrdIssue {
  readonly path: string;
  readonly message: string;
}

export type CrdResult = { readonly ok: true } | { readonly ok: false; readonly issues: readonly CrdIssue[] };

/** The served version's `openAPIV3Schema` of a CRD file. */
export function crdSchema(kind: ChaosKind): AnySchemaObject {
  const crd = parse(readFileSync(join(CRD_DIR, CRD_FILES[kind]), "utf8")) as {
    spec: {
      names: { kind: string };
      versions: { name: string; served: boolean; schema: { openAPIV3Schema: object } }[];
    };
  };
  if (crd.spec.names.kind !== kind) throw new Error(`${CRD_FILES[kind]} defines ${crd.spec.names.kind}, not ${kind}`);
  const version = crd.spec.versions.find((v) => v.served && `chaos-mesh.org/${v.name}` === CHAOS_API_VERSION);
  if (!version) throw new Error(`${CRD_FILES[kind]} serves no ${CHAOS_API_VERSION}`);
  return version.schema.openAPIV3Schema as AnySchemaObject;
}

/**
 * A copy of `schema` where every object with declared properties refuses others, as strict
 * field validation does. Objects that declare none (`metadata`, free maps) or that keep
 * unknown fields (`x-kubernetes-preserve-unknown-fields`) stay open.
 */
export function strictSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strictSchema);
  if (schema === null || typeof schema !== "object") return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === "enum" || k === "default" ? v : strictSchema(v);
  if (
    out.properties !== undefined &&
    out.additionalProperties === undefined &&
    out["x-kubernetes-preserve-unknown-fields"] !== true
  ) {
    out.additionalProperties = false;
  }
  return out;
}

function newAjv(): Ajv {
  // strictTypes off: the CRDs are OpenAPI (nullable, x-kubernetes-*), not strict JSON Schema.
  const ajv = new Ajv({ allErrors: true, strict: false });
  for (const kw of [
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-int-or-string",
    "x-kubernetes-validations",
  ]) {
    ajv.addKeyword(kw);
  }
  ajv.addFormat("int32", { type: "number", validate: (n: number) => Number.isInteger(n) && Math.abs(n) < 2 ** 31 });
  ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isSafeInteger(n) });
  ajv.addFormat("date-time", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i);
  return ajv;
}

const cache = new Map<string, ValidateFunction>();

function validator(kind: ChaosKind, strict: boolean): ValidateFunction {
  const key = `${kind}:${strict}`;
  let v = cache.get(key);
  if (!v) {
    const schema = crdSchema(kind);
    v = newAjv().compile((strict ? strictSchema(schema) : schema) as AnySchemaObject);
    cache.set(key, v);
  }
  return v;
}

function issue(e: ErrorObject): CrdIssue {
  const path = e.instancePath || "/";
  if (e.keyword === "additionalProperties") {
    const field = (e.params as { additionalProperty: string }).additionalProperty;
    return { path: `${e.instancePath}/${field}`, message: "unknown field (the API server would drop it)" };
  }
  if (e.keyword === "required") {
    const field = (e.params as { missingProperty: string }).missingProperty;
    return { path: `${e.instancePath}/${field}`, message: "required field missing" };
  }
  return { path, message: e.message ?? e.keyword };
}

function isChaosKind(kind: unknown): kind is ChaosKind {
  return typeof kind === "string" && (CHAOS_KINDS as string[]).includes(kind);
}

/**
 * Validates `obj` against its kind's CRD. Besides the schema it checks what the API server
 * checks outside it: the apiVersion, a known kind, and a name and namespace in metadata.
 */
export function validateChaosObject(obj: unknown, opts: { strict?: boolean } = {}): CrdResult {
  const o = obj as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  if (o === null || typeof o !== "object") return { ok: false, issues: [{ path: "/", message: "expected an object" }] };
  if (!isChaosKind(o.kind)) {
    return { ok: false, issues: [{ path: "/kind", message: `expected one of ${CHAOS_KINDS.join(", ")}` }] };
  }
  const issues: CrdIssue[] = [];
  if (o.apiVersion !== CHAOS_API_VERSION)
    issues.push({ path: "/apiVersion", message: `expected ${CHAOS_API_VERSION}` });
  if (typeof o.metadata?.name !== "string" || o.metadata.name === "") {
    issues.push({ path: "/metadata/name", message: "required field missing" });
  }
  const validate = validator(o.kind, opts.strict ?? true);
  if (!validate(obj)) issues.push(...(validate.errors ?? []).map(issue));
  return issues.length === 0 ? { ok: true } : { ok: false, issues };
}

/** `validateChaosObject` for a test: returns nothing or throws every issue with its path. */
export function assertValidChaosObject(obj: unknown, what = "object"): void {
  const r = validateChaosObject(obj);
  if (!r.ok) throw new Error(`${what} is invalid:\n${r.issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")}`);
}
