/**
 * The policy registry. Scenario files, the CLI and the runner all take policy names
 * from these keys, so a policy exists everywhere once it is listed here.
 */
import type { PolicyContext, PolicyDefinition } from "./definition.ts";
import { heuristic } from "./heuristic.ts";
import { hpa } from "./hpa.ts";
// Registers the codecs in harness/core/codecs.ts: a policy naming one is fed it.
import "./codecs.ts";
import { none } from "./none.ts";
import { random } from "./random.ts";
import { type PrepareOptions, rl } from "./rl.ts";

export const policies = { none, random, heuristic, hpa, rl } as const satisfies Record<string, PolicyDefinition>;
export type PolicyName = keyof typeof policies;
export const POLICY_NAMES = Object.keys(policies) as [PolicyName, ...PolicyName[]];

export function isPolicyName(name: string): name is PolicyName {
  return Object.hasOwn(policies, name);
}

/** Parameters of a policy as written in a scenario file (defaults not yet applied). */

/**
 * Builds a policy from its name and raw parameters, applying the schema's defaults.
 * Throws a zod error on bad parameters (scenario loading validates them first).
 */
export function createPolicy<N extends PolicyName>(
  name: N,
  params: unknown,
  ctx: PolicyContext,
): ReturnType<(typeof policies)[N]["create"]> {
  const def: PolicyDefinition = policies[name];
  return def.create(def.params.parse(params ?? {}), ctx) as ReturnType<(typeof policies)[N]["create"]>;
}

/** A definition that must load something (a model file) before `create` can run. */
interface Preparable {
  prepare(params: unknown, options?: PrepareOptions): Promise<unknown>;
}

/**
 * Loads what a policy needs before {@link createPolicy} (the rl policy's ONNX model) and
 * resolves at once for the others. Loads are cached per thread, so awaiting this before
 * every episode costs little. Throws what loading throws (e.g. a `ModelError`).
 */
export async function preparePolicy(name: PolicyName, params: unknown, options?: PrepareOptions): Promise<void> {
  const def: PolicyDefinition & Partial<Preparable> = policies[name];
  if (def.prepare) await def.prepare(def.params.parse(params ?? {}), options);
}

export type { PolicyContext, PolicyDefinition } from "./definition.ts";
export { modelChecksums, type PrepareOptions } from "./rl.ts";
