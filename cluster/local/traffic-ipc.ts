/**
 * The messages between the harness and its traffic processes (traffic-main.ts), as zod
 * schemas: a process boundary is an edge like any other.
 */
import { z } from "zod";

export const toBalancerSchema = z.object({
  type: z.literal("endpoints"),
  seq: z.number().int(),
  endpoints: z.array(
    z.object({ pod: z.string(), port: z.number().int().positive(), delayMs: z.number().min(0).optional() }),
  ),
});
export type ToBalancer = z.infer<typeof toBalancerSchema>;

export const toLoadgenSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("rate"), seq: z.number().int(), rps: z.number().min(0) }),
  z.object({ type: z.literal("window"), seq: z.number().int() }),
]);
export type ToLoadgen = z.infer<typeof toLoadgenSchema>;

const windowSchema = z.object({
  seconds: z.number(),
  scheduled: z.number(),
  completed: z.number(),
  errors: z.number(),
  p50Ms: z.number().nullable(),
  p95Ms: z.number().nullable(),
  p99Ms: z.number().nullable(),
  inFlight: z.number(),
});

export const toParentSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("listening"), port: z.number(), metricsPort: z.number() }),
  z.object({ type: z.literal("ack"), seq: z.number().int() }),
  z.object({ type: z.literal("window"), seq: z.number().int(), window: windowSchema }),
  z.object({ type: z.literal("error"), message: z.string() }),
]);
export type ToParent = z.input<typeof toParentSchema>;
