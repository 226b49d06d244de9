import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { z } from "zod";
import { ACTION_COUNT, type Action, type Decision, type SyncPolicy } from "../harness/core/contract.ts";
import { definePolicy } from "./definition.ts";

/** Keeps the random policy's stream apart from the simulator's streams of the same seed. */
const STREAM_SALT = 0x5eed_ac71;

/**
 * Picks uniformly among all actions (or acts only with probability `actProb`), seeded by
 * the episode seed: a sanity floor that shows what blind action costs.
 */
export const random = definePolicy({
  description: "Uniformly random actions, seeded by the episode seed.",
  params: z
    .object({
      actProb: z
        .number()
        .min(0)
        .max(1)
        .default(1)
        .describe("Chance of drawing a uniformly random action each step; otherwise noop."),
    })
    .strict(),
  create: (params, ctx): SyncPolicy => {
    let rng = xoroshiro128plus(ctx.seed ^ STREAM_SALT);
    const decision: Decision = { action: 0, confidence: 0, reason: "random" };
    const p = 1 / ACTION_COUNT;
    return {
      name: "random",
      reset(seed) {
        rng = xoroshiro128plus(seed ^ STREAM_SALT);
      },
      decide() {
        const u = (rng.next() >>> 0) / 0x1_0000_0000;
        if (u >= params.actProb) {
          decision.action = 0;
          decision.confidence = 1 - params.actProb + params.actProb * p;
        } else {
          decision.action = Math.floor((u / params.actProb) * ACTION_COUNT) as Action;
          decision.confidence = params.actProb * p + (decision.action === 0 ? 1 - params.actProb : 0);
        }
        return decision;
      },
    };
  },
});
