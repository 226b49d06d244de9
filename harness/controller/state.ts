/**
 * What the long-running controller must not forget when it restarts: the time of its last
 * executed action (so the guard's minimum interval holds across a crash or a rollout) and
 * the approval queue (a person's pending decisions). One small JSON file, validated on read
 * and replaced atomically on every change (write a temporary file, fsync, rename), so a
 * kill at any moment leaves either the old state or the new one, never half of each.
 *
 * Times are Unix milliseconds here: a restarted process has another clock origin.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { HarnessError } from "../core/errors.ts";

export const APPROVAL_STATUSES = ["pending", "approved", "rejected", "expired", "executed", "failed"] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

export const approvalSchema = z.object({
  id: z.string(),
  action: z.number().int().min(0),
  actionName: z.string(),
  status: z.enum(APPROVAL_STATUSES),
  /** Why the policy proposed it (its decision's reason), possibly empty. */
  reason: z.string(),
  requestedAtMs: z.number(),
  /** Past this time a request that has not run expires, approved or not. */
  expiresAtMs: z.number(),
  decidedAtMs: z.number().nullable(),
  /** Who approved or rejected it (an HTTP client's note, `harness approve`), or what settled it. */
  decidedBy: z.string().nullable(),
  /** The observation that led to the request, in physical units. */
  observed: z.object({
    desiredReplicas: z.number(),
    readyReplicas: z.number(),
    cpu: z.number(),
    latencyMs: z.number(),
    errorRate: z.number(),
  }),
  detail: z.string().nullable(),
});
export type Approval = z.output<typeof approvalSchema>;

export const controllerStateSchema = z.object({
  version: z.literal(1),
  lastActionAtMs: z.number().nullable(),
  nextApprovalId: z.number().int().min(1),
  approvals: z.array(approvalSchema),
});
export type ControllerState = z.output<typeof controllerStateSchema>;

export function emptyState(): ControllerState {
  return { version: 1, lastActionAtMs: null, nextApprovalId: 1, approvals: [] };
}

/** Reads the state file; a missing file is a fresh state, a corrupt one an error naming the file. */
export function readState(file: string): ControllerState {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return emptyState();
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new HarnessError(
      "controller_state_invalid",
      `Controller state ${file} is not JSON: ${(err as Error).message}`,
    );
  }
  const parsed = controllerStateSchema.safeParse(json);
  if (!parsed.success) {
    throw new HarnessError(
      "controller_state_invalid",
      `Controller state ${file} is invalid: ${z.prettifyError(parsed.error).replaceAll("\n", " ")}`,
    );
  }
  return parsed.data;
}

/** Replaces the state file atomically (temporary file, fsync, rename). */
export function writeState(file: string, state: ControllerState): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, `${JSON.stringify(state, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
