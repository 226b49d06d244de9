/**
 * Wall time for a real backend. `now()` counts seconds from the clock's origin (one origin
 * for the clock's life; `restart()` moves it to the present before anything is timed).
 * `sleepUntil(t)` waits until that absolute time on the clock's own timeline, not for a
 * duration, so the time spent observing and deciding never makes the loop's grid drift.
 * An abort (the call's signal, or the one given at construction) ends a wait at once; the
 * loop then sees the signal and stops.
 */
import type { Clock } from "../../harness/core/contract.ts";

export class WallClock implements Clock {
  private origin = performance.now();
  /** The origin as Unix seconds (for Prometheus's evaluation times and event times). */
  originUnixS = Date.now() / 1000;

  constructor(private readonly signal?: AbortSignal) {}

  /** Puts the origin (time 0) at the present moment. */
  restart(): void {
    this.origin = performance.now();
    this.originUnixS = Date.now() / 1000;
  }

  now(): number {
    return (performance.now() - this.origin) / 1000;
  }

  sleepUntil(deadline: number, signal?: AbortSignal): Promise<void> {
    const signals = [signal, this.signal].filter((s): s is AbortSignal => s !== undefined);
    return new Promise((resolve) => {
      if (signals.some((s) => s.aborted)) return resolve();
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        for (const s of signals) s.removeEventListener("abort", done);
        resolve();
      };
      // A timer may fire a little early (it rounds to whole ms): wait again until the
      // clock reads the deadline, so a step never starts before its grid point.
      const wait = () => {
        const ms = (deadline - this.now()) * 1000;
        if (ms <= 0) return done();
        timer = setTimeout(wait, Math.ceil(ms));
      };
      for (const s of signals) s.addEventListener("abort", done, { once: true });
      wait();
    });
  }
}
