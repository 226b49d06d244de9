/**
 * The policy registry. Scenario files, the CLI and the runner all take policy names
 * from these keys, so a policy exists everywhere once it is listed here.
 */
import type { z } from "zod";
import type { PolicyContext, PolicyDefinition } from "./definition.ts";
import { heuristic } from "./heuristic.ts";
import { hpa } from "./hpa.ts";
import { none } from "./none.ts";
import { random } from "./random.ts";

export const policies = { none, random, heuristic, hpa } as const satisfies Record<string, PolicyDefinition>;
export type PolicyName = keyof typeof policies;
export const POLICY_NAMES = Object.keys(policies) as [PolicyName, ...PolicyName[]];

export function isPolicyName(name: string): name is PolicyName {
  return Object.hasOwn(policies, name);
}

/** Parameters of a policy as written in a scenario file (defaults not yet applied). */
export type PolicyParamsInput<N extends PolicyName> = z.input<(typeof policies)[N]["params"]>;

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

export type { PolicyContext, PolicyDefinition } from "./definition.ts";
