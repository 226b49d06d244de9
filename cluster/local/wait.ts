/**
 * Waiting for a condition, not for a fixed time: tests and the testbed poll what they need
 * (a port answering, a pod ready, an OOM counted) with a deadline, so they pass on a busy
 * machine and fail with the name of what never happened.
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface WaitOptions {
  readonly timeoutMs: number;
  /** What is awaited, for the error message. */
  readonly what: string;
  /** @default 25 */
  readonly intervalMs?: number;
  readonly signal?: AbortSignal;
}

export async function waitFor(cond: () => boolean | Promise<boolean>, o: WaitOptions): Promise<void> {
  const deadline = performance.now() + o.timeoutMs;
  for (;;) {
    o.signal?.throwIfAborted();
    if (await cond()) return;
    if (performance.now() > deadline) throw new Error(`Timed out after ${o.timeoutMs} ms waiting for ${o.what}`);
    await sleep(o.intervalMs ?? 25, undefined, o.signal ? { signal: o.signal } : undefined);
  }
}
