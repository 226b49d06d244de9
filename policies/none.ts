import { z } from "zod";
import { Action, type Decision, type SyncPolicy } from "../harness/core/contract.ts";
import { definePolicy } from "./definition.ts";

const NOOP: Decision = Object.freeze({ action: Action.Noop, confidence: 1, reason: "never acts" });

/** Never acts: the floor every other policy must beat, and what Kubernetes alone achieves. */
export const none = definePolicy({
  description: "Never acts; Kubernetes' own self-healing only.",
  params: z.object({}).strict(),
  create: (): SyncPolicy => ({ name: "none", decide: () => NOOP }),
});
