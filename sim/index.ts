/**
 * The simulator's public API (see sim/README.md). Everything here depends only on
 * harness/contract.ts and npm packages.
 */
export { SimBackend, type SimBackendOptions } from "./backend.ts";
export { CHECK_CONFIG, type CheckSimOptions, checkSim, type EnvLike } from "./check.ts";
export * as core from "./core.ts";
export {
  type ResetResult,
  SimEnv,
  type SimEnvConfig,
  type SimInfo,
  type StepResult,
} from "./env.ts";
export { copyEvent, SimEvent } from "./events.ts";
export {
  type Frequency,
  type FrequencyInput,
  frequencySchema,
  type SimParams,
  type SimParamsInput,
  simParamsSchema,
  WORKLOAD_PATTERNS,
  type Workload,
  type WorkloadInput,
  workloadSchema,
} from "./params.ts";
export {
  allDown,
  allHealthy,
  REWARD_NAMES,
  type RewardFn,
  type RewardName,
  rewardNameSchema,
  rewards,
  SEED_REWARD,
  seedReward,
} from "./reward.ts";
export { generateSchedule, MAX_INJECTIONS, type ScheduleOptions } from "./schedule.ts";
export { workloadSeries } from "./workload.ts";
