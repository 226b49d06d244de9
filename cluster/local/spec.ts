/**
 * The testbed's deployment settings. The schema lives beside the scenario schema
 * (scenarios/local.ts) so that the scenario file owns every default; re-exported here for
 * the testbed's own modules.
 */
export {
  type DeploymentSpec,
  type DeploymentSpecInput,
  deploymentSpecSchema,
  type LocalSection,
  localSectionSchema,
  TIME_SCALE,
} from "../../scenarios/local.ts";
