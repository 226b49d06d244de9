/**
 * The demo service's settings, one zod schema read from the environment (the way a
 * container gets its configuration), with the defaults documented here only.
 */
import { z } from "zod";

export const serviceOptionsSchema = z
  .object({
    /** Port to listen on; 0 lets the kernel pick one (the service prints it). */
    PORT: z.coerce.number().int().min(0).max(65535).default(0),
    /** Address to bind; loopback by default, `0.0.0.0` in the container image. */
    HOST: z.string().default("127.0.0.1"),
    /** CPU time one `/api/work` request burns, ms (calibrated at start-up). */
    WORK_MS: z.coerce.number().min(0).max(10_000).default(5),
    /** Memory one `/api/work` request allocates and touches, KiB (released after the response). */
    ALLOC_KIB: z.coerce.number().int().min(0).max(1_048_576).default(256),
    /** Milliseconds `/ready` answers 503 after start-up, as an application warming up would. */
    WARMUP_MS: z.coerce.number().int().min(0).max(600_000).default(0),
  })
  .strip();
export type ServiceOptionsInput = z.input<typeof serviceOptionsSchema>;
export type ServiceOptions = z.output<typeof serviceOptionsSchema>;
