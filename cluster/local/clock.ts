/**
 * Wall time for a real backend. `now()` counts seconds from the episode's origin; `sleep(s)`
 * sleeps until the next point of the observation grid (origin + k × s), not for `s`, so the
 * time spent observing and deciding does not make the steps drift. An abort ends a sleep at
 * once (the loop then sees the signal and stops).
 */
import type { Clock } from "../../harness/core/contract.ts";

export class WallClock implements Clock {
  private origin = performance.now();
  private next = 0;
  /** The origin as Unix seconds (for Prometheus's evaluation times and event times). */
  originUnixS = Date.now() / 1000;

  constructor(private readonly signal?: AbortSignal) {}

  /** Puts the origin (time 0, the first grid point) at the present moment. */
  restart(): void {
    this.origin = performance.now();
    this.originUnixS = Date.now() / 1000;
    this.next = 0;
  }

  now(): number {
    return (performance.now() - this.origin) / 1000;
  }

  sleep(seconds: number): Promise<void> {
    this.next = Math.max(this.next + seconds, 0);
    // Behind the grid by more than one step (a very slow step): skip to the next point ahead.
    const now = this.now();
    if (this.next < now) this.next = now + seconds - ((now - this.next) % seconds);
    const ms = (this.next - now) * 1000;
    const signal = this.signal;
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(t);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const t = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
    });
  }
}
