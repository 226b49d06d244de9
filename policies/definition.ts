/**
 * What every policy in the registry provides: a zod schema for its parameters (the
 * single source of their defaults, embedded by the scenario schema) and a factory.
 */
import type { z } from "zod";
import type { Policy, ReplicaLimits, Slo } from "../harness/core/contract.ts";

/** What a policy may know about the deployment it controls, beyond each observation. */
export interface PolicyContext {
  /** Seed of the episode; random policies draw only from it. */
  readonly seed: number;
  readonly limits: ReplicaLimits;
  /** Seconds between two decisions (the observation interval). */
  readonly stepSeconds: number;
  readonly slo: Slo;
}

export interface PolicyDefinition<S extends z.ZodType = z.ZodType, P extends Policy = Policy> {
  readonly description: string;
  readonly params: S;
  create(params: z.output<S>, ctx: PolicyContext): P;
}

/** Ties a definition's factory to its schema's output type and keeps its policy type. */
export function definePolicy<S extends z.ZodType, P extends Policy>(
  def: PolicyDefinition<S, P>,
): PolicyDefinition<S, P> {
  return def;
}
