/**
 * Turns zod issues into scenario issues a person can act on: messages in the style
 * "Expected …, got …", one issue per unknown key (with a "did you mean"), and unions
 * reduced to the branch the author evidently meant, instead of zod's "Invalid input"
 * with every branch's complaints nested inside.
 */
import type { z } from "zod";
import { ScenarioErrorCode, type ScenarioIssue } from "./core/errors.ts";

type ZodIssue = z.core.$ZodIssue;
type Seg = string | number;
export type UnplacedIssue = Omit<ScenarioIssue, "line" | "column"> & {
  /** The issue is about the last path segment as a key (unknown or badly named), not its value. */
  readonly atKey?: boolean;
};

export interface IssueContext {
  /** Pass as `safeParse(data, { error, reportInput: true })`; issues need their input. */
  readonly error: z.core.$ZodErrorMap;
  /** Keys a strict object allows, recorded by the error map for the object that had unknown keys. */
  readonly allowedKeys: WeakMap<object, readonly string[]>;
}

/** A fresh error map (it remembers allowed keys per parse, for suggestions). */
export function scenarioErrorMap(): IssueContext {
  const allowedKeys = new WeakMap<object, readonly string[]>();
  const error: z.core.$ZodErrorMap = (iss) => {
    switch (iss.code) {
      case "invalid_type":
        if (iss.input === undefined) return `Missing required key (expected ${typeName(iss.expected)})`;
        return `Expected ${typeName(iss.expected)}, got ${describeTyped(iss.input)}`;
      case "invalid_value":
        return iss.values.length === 1
          ? `Expected ${JSON.stringify(iss.values[0])}, got ${describe(iss.input)}`
          : `Expected one of ${iss.values.map(String).join(", ")}, got ${describe(iss.input)}`;
      case "invalid_union": {
        // A discriminated union whose discriminator matched nothing: say which values exist.
        const options: unknown = "options" in iss ? iss.options : undefined;
        if (iss.discriminator === undefined || !Array.isArray(options)) return undefined;
        const value = isRecord(iss.input) ? iss.input[iss.discriminator] : undefined;
        const list = options.map(String).join(", ");
        return value === undefined
          ? `Missing required key (expected one of ${list})`
          : `Expected one of ${list}, got ${describe(value)}`;
      }
      case "unrecognized_keys": {
        const shape = (iss.inst as { _zod?: { def?: { shape?: object } } } | undefined)?._zod?.def?.shape;
        if (shape !== undefined && isRecord(iss.input)) allowedKeys.set(iss.input, Object.keys(shape));
        return `Unknown key${iss.keys.length > 1 ? "s" : ""} ${iss.keys.map((k) => JSON.stringify(k)).join(", ")}`;
      }
      case "too_small":
        return bound("at least", iss.origin, iss.minimum, iss.inclusive, iss.input);
      case "too_big":
        return bound("at most", iss.origin, iss.maximum, iss.inclusive, iss.input);
      case "not_multiple_of":
        return `Expected a multiple of ${iss.divisor}, got ${describe(iss.input)}`;
      default:
        return undefined;
    }
  };
  return { error, allowedKeys };
}

/** Flattens zod's issues (unions, record keys, unknown keys) into one list of scenario issues. */
export function zodIssuesToScenario(issues: readonly ZodIssue[], ctx: IssueContext): UnplacedIssue[] {
  const out: UnplacedIssue[] = [];
  flatten(issues, [], ctx, out);
  return out;
}

function flatten(issues: readonly ZodIssue[], base: readonly Seg[], ctx: IssueContext, out: UnplacedIssue[]): void {
  for (const iss of issues) {
    const path = [...base, ...iss.path.map((p) => (typeof p === "number" ? p : String(p)))];
    switch (iss.code) {
      case "invalid_union": {
        if (iss.errors.length === 0) {
          const missing = iss.discriminator !== undefined && !hasKey(iss.input, iss.discriminator);
          out.push({
            code: missing ? ScenarioErrorCode.MissingKey : ScenarioErrorCode.InvalidValue,
            path,
            message: iss.message,
          });
          break;
        }
        const branch = pickBranch(iss.errors, iss.input);
        if (branch !== null) {
          flatten(branch, path, ctx, out);
        } else {
          const expected = [...new Set(iss.errors.flat().map(expectedOf))];
          out.push(
            iss.input === undefined
              ? {
                  code: ScenarioErrorCode.MissingKey,
                  path,
                  message: `Missing required key (expected ${expected.join(" or ")})`,
                }
              : {
                  code: ScenarioErrorCode.InvalidType,
                  path,
                  message: `Expected ${expected.join(" or ")}, got ${describeTyped(iss.input)}`,
                },
          );
        }
        break;
      }
      case "invalid_key": {
        const start = out.length;
        flatten(iss.issues, path, ctx, out);
        for (let i = start; i < out.length; i++) out[i] = { ...out[i], atKey: true };
        break;
      }
      case "invalid_element":
        flatten(iss.issues, path, ctx, out);
        break;
      case "unrecognized_keys": {
        const allowed = isRecord(iss.input) ? ctx.allowedKeys.get(iss.input) : undefined;
        for (const key of iss.keys) {
          out.push({
            code: ScenarioErrorCode.UnknownKey,
            path: [...path, key],
            message: unknownKey(key, allowed),
            atKey: true,
          });
        }
        break;
      }
      default:
        out.push({ code: codeOf(iss), path, message: iss.message });
    }
  }
}

/**
 * The union branch the author meant: the first (in the schema's order of preference) that
 * failed on content rather than on shape. A branch whose every issue is a type mismatch at
 * the union itself is the wrong shape; one whose only complaint is a discriminator key the
 * input lacks is a weak match (a mapping, but not that kind), used only when nothing better
 * failed. Null when every branch is the wrong shape: the caller lists what was expected.
 */
function pickBranch(branches: readonly (readonly ZodIssue[])[], input: unknown): readonly ZodIssue[] | null {
  let weak: readonly ZodIssue[] | null = null;
  for (const b of branches) {
    if (b.every((e) => wrongShape(e, input))) continue;
    if (
      b.every((e) => e.code === "invalid_union" && e.discriminator !== undefined && !hasKey(input, e.discriminator))
    ) {
      weak ??= b;
      continue;
    }
    return b;
  }
  return weak;
}

/** A union-level complaint that the input is not even this branch's type. */
function wrongShape(e: ZodIssue, input: unknown): boolean {
  if (e.path.length !== 0) return false;
  if (e.code === "invalid_type") return true;
  // z.enum reports a number where names belong as a bad value, not a bad type.
  return e.code === "invalid_value" && e.values.every((v) => typeof v !== typeof input);
}

function expectedOf(e: ZodIssue): string {
  if (e.code === "invalid_type") return typeName(e.expected);
  if (e.code === "invalid_value" && e.values.length > 0) return typeName(typeof e.values[0]);
  return "something else";
}

function codeOf(iss: ZodIssue): ScenarioErrorCode {
  switch (iss.code) {
    case "invalid_type":
      return iss.input === undefined ? ScenarioErrorCode.MissingKey : ScenarioErrorCode.InvalidType;
    case "invalid_value":
      return ScenarioErrorCode.InvalidValue;
    case "too_small":
      return ScenarioErrorCode.TooSmall;
    case "too_big":
      return ScenarioErrorCode.TooBig;
    case "invalid_format":
      return ScenarioErrorCode.InvalidFormat;
    case "not_multiple_of":
      return ScenarioErrorCode.NotMultipleOf;
    case "custom": {
      const code: unknown = iss.params?.code;
      return isCatalogCode(code) ? code : ScenarioErrorCode.Invalid;
    }
    default:
      return ScenarioErrorCode.Invalid;
  }
}

const CODES = new Set<string>(Object.values(ScenarioErrorCode));
function isCatalogCode(x: unknown): x is ScenarioErrorCode {
  return typeof x === "string" && CODES.has(x);
}

// ---------------------------------------------------------------------------
// Wording

function unknownKey(key: string, allowed: readonly string[] | undefined): string {
  const head = `Unknown key ${JSON.stringify(key)}`;
  if (allowed === undefined || allowed.length === 0) return head;
  const near = closest(key, allowed);
  if (near !== undefined) return `${head} (did you mean "${near}"?)`;
  // A long list helps nobody; the JSON Schema gives editors completion instead.
  return allowed.length <= 10 ? `${head} (allowed: ${allowed.join(", ")})` : head;
}

/** The allowed key within a small edit distance of a typo, if there is exactly one best. */
function closest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const a of allowed) {
    const d = editDistance(key.toLowerCase(), a.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = a;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

function bound(
  side: "at least" | "at most",
  origin: string,
  limit: number | bigint,
  inclusive: boolean | undefined,
  input: unknown,
): string {
  const n = Number(limit);
  if (origin === "array" || origin === "set") {
    const len = Array.isArray(input) ? `, got ${input.length}` : "";
    return `Expected ${side} ${n} ${n === 1 ? "entry" : "entries"}${len}`;
  }
  if (origin === "string") {
    return side === "at least" && n === 1 ? "Expected a non-empty string" : `Expected ${side} ${n} characters`;
  }
  const op = side === "at least" ? (inclusive ? ">=" : ">") : inclusive ? "<=" : "<";
  return `Expected a number ${op} ${n}, got ${describe(input)}`;
}

function typeName(expected: string | undefined): string {
  switch (expected) {
    case "number":
      return "a number";
    case "int":
      return "an integer";
    case "string":
      return "a string";
    case "boolean":
      return "true or false";
    case "object":
    case "record":
      return "a mapping";
    case "array":
    case "tuple":
      return "a list";
    default:
      return String(expected);
  }
}

/** A value as it appeared in the file. */
function describe(x: unknown): string {
  if (typeof x === "string") return JSON.stringify(x);
  if (x === null) return "null";
  if (Array.isArray(x)) return "a list";
  if (typeof x === "object") return "a mapping";
  return String(x);
}

/** As {@link describe}, naming the type of a scalar too, for type mismatches. */
function describeTyped(x: unknown): string {
  if (x === null || typeof x === "object") return describe(x);
  return `${describe(x)} (${typeof x})`;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function hasKey(x: unknown, key: string): boolean {
  return isRecord(x) && x[key] !== undefined;
}
