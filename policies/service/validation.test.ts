import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OBS_V1 } from "../../harness/core/contract.ts";
import { predictBatchRequestSchema, predictRequestSchema } from "./schemas.ts";
import { compileBodyValidator } from "./validation.ts";

/** Numbers as JSON.parse can produce them, plus the non-finite ones it cannot spell but `1e999` gives. */
const anyNumber = fc.oneof(
  fc.double(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0, 1e308),
  fc.integer(),
);
const junk = fc.oneof(fc.string(), fc.constant(null), fc.boolean(), fc.constant({}), fc.constant([]));
const finiteState = fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), {
  minLength: OBS_V1.dim,
  maxLength: OBS_V1.dim,
});
const stateLike = fc.oneof(
  finiteState,
  fc.array(anyNumber, { minLength: OBS_V1.dim, maxLength: OBS_V1.dim }),
  fc.array(fc.oneof(anyNumber, junk), { minLength: 0, maxLength: OBS_V1.dim + 2 }),
  junk,
);
const body = (key: fc.Arbitrary<string>, value: fc.Arbitrary<unknown>) =>
  fc.oneof(
    fc.record({ k: key, v: value }).map(({ k, v }) => ({ [k]: v })),
    fc.record({ k: key, v: value, extra: fc.string() }).map(({ k, v, extra }) => ({ [k]: v, [extra]: 1 })),
    junk,
  );

const validators = new Map([predictRequestSchema, predictBatchRequestSchema].map((s) => [s, compileBodyValidator(s)]));

/** The compiled validator accepts exactly what zod accepts: ajv decides, so it must not admit more. */
function agrees(schema: typeof predictRequestSchema | typeof predictBatchRequestSchema, data: unknown) {
  const compiled = validators.get(schema)!(data);
  const viaAjvOnly = "value" in compiled && compiled.value === data;
  expect("value" in compiled).toBe(schema.safeParse(data).success);
  return viaAjvOnly;
}

describe("compiled body validation agrees with the zod schemas", () => {
  it("on generated /predict bodies", () => {
    let accepted = 0;
    fc.assert(
      fc.property(body(fc.constantFrom("state", "states", "x"), stateLike), (data) => {
        agrees(predictRequestSchema, data);
        if (predictRequestSchema.safeParse(data).success) accepted++;
      }),
      { seed: 15, numRuns: 2000 },
    );
    // Both sides of the boundary were tried.
    expect(accepted).toBeGreaterThan(20);
  });

  it("on generated /predict/batch bodies", () => {
    let accepted = 0;
    fc.assert(
      fc.property(
        body(
          fc.constantFrom("states", "state"),
          fc.oneof(fc.array(finiteState, { maxLength: 4 }), fc.array(stateLike, { maxLength: 4 }), junk),
        ),
        (data) => {
          agrees(predictBatchRequestSchema, data);
          if (predictBatchRequestSchema.safeParse(data).success) accepted++;
        },
      ),
      { seed: 15, numRuns: 2000 },
    );
    expect(accepted).toBeGreaterThan(20);
  });

  it("refuses non-finite numbers with zod's issue, naming the element", () => {
    const validate = compileBodyValidator(predictRequestSchema);
    for (const bad of [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN]) {
      const r = validate({ state: [0, 0, 0, 0, bad, 0, 0, 0, 0] });
      expect("error" in r).toBe(true);
      expect((r as unknown as { error: { issues: { path: unknown[] }[] } }).error.issues[0]!.path).toEqual([
        "state",
        4,
      ]);
    }
  });

  it("passes a valid body through as itself (no copy on the hot path)", () => {
    const data = { state: [0.3, 0, 0, 0.5, 0.3, 0.05, 0, 1, 0.3] };
    expect(agrees(predictRequestSchema, data)).toBe(true);
  });
});
