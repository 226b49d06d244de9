/**
 * Request-body validation for the agent service: the zod schemas in schemas.ts stay the one
 * source of truth, but the hot path does not run zod. Each body schema is turned into JSON
 * Schema once (`z.toJSONSchema`, input side) and compiled by ajv into a plain function:
 * 16 us for a 1,024-state batch where zod took 2.4 ms (measured in-process on the 2-core VM).
 *
 * A body ajv refuses is parsed again with zod, so a refusal reads exactly as before (zod's
 * issues become the problem's `errors`, problem.ts). The two must agree on every input;
 * validation.test.ts checks that with generated bodies. With `strictNumbers`, ajv's `number`
 * refuses NaN and ±Infinity as zod 4's `z.number()` does, so `1e999` never reaches the model.
 */
import { Ajv } from "ajv";
import { z } from "zod";

export type BodyValidator = (data: unknown) => { value: unknown } | { error: Error };

// One ajv instance for the service's few schemas. `strictNumbers` is what makes `number`
// refuse NaN and ±Infinity (without it ajv accepts `1e999`); the rest of strict mode stays
// off, as it refuses annotations it does not know (a zod `.meta()` would add some).
const ajv = new Ajv({ allErrors: false, strict: false, strictNumbers: true });

/** The JSON Schema a zod body schema validates against (what ajv compiles; also the OpenAPI's). */
export function bodyJsonSchema(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: "input", target: "draft-07" }) as Record<string, unknown>;
}

/**
 * A fastify validator for `schema`: ajv decides; zod explains a refusal. Should zod accept
 * what ajv refused (they disagree), zod wins: it is the schema of record.
 */
export function compileBodyValidator(schema: z.ZodType): BodyValidator {
  const check = ajv.compile(bodyJsonSchema(schema));
  return (data) => {
    if (check(data)) return { value: data };
    const parsed = schema.safeParse(data);
    return parsed.success ? { value: parsed.data } : { error: parsed.error as unknown as Error };
  };
}
