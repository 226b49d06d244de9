/**
 * The testbed's deployment settings. The schema lives beside the scenario schema
 * (scenarios/local.ts) so that the scenario file owns every default; re-exported here for
 * the testbed's own modules.
 */
import type { DeploymentSpec } from "../../scenarios/local.ts";

export {
  type DeploymentSpec,
  type DeploymentSpecInput,
  deploymentSpecSchema,
  type LocalSection,
  localSectionSchema,
  TIME_SCALE,
} from "../../scenarios/local.ts";

/**
 * Requests per second one replica serves at its CPU limit: `cpuCores` seconds of CPU per
 * second over `workMs` of CPU per `/api/work` request (obs-v2's `podCapacityRps` on the
 * testbed; HTTP handling costs a little more, so the real ceiling is somewhat lower).
 * Infinite when a request costs no CPU.
 */
export function podCapacityRps(spec: Pick<DeploymentSpec, "cpuCores" | "workMs">): number {
  return spec.workMs > 0 ? (spec.cpuCores * 1000) / spec.workMs : Number.POSITIVE_INFINITY;
}
