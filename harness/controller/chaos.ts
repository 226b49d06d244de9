/**
 * The controller's chaos loop: every `intervalS`, the next fault of the list (round robin)
 * is injected through the backend, with its duration, and cleared when that is over. Stop
 * conditions: nothing is injected while paused, while an incident is open, or while a
 * previous chaos fault is still live; chaos runs only where the config's allow-list names
 * the namespace (checked by the config schema). `stop()` clears every live fault, each in
 * its own guarded call, and names what it could not clear.
 */
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { Backend, FaultInjection, FaultSpec } from "../core/contract.ts";

export interface ChaosOptions {
  readonly backend: Backend;
  readonly intervalS: number;
  readonly faults: readonly FaultSpec[];
  readonly seed: number;
  readonly firstAfterS: number;
  /** True while injecting must wait (paused, an incident open). */
  readonly hold: () => string | null;
  readonly onInjected?: (f: FaultInjection) => void;
  readonly onSkipped?: (why: string) => void;
  /** A fault cleared: at the end of its duration, or by `stop()`. */
  readonly onCleared?: (f: FaultInjection, by: "duration" | "stop") => void;
  readonly onError?: (what: string, err: unknown) => void;
}

/** Fault ids of the chaos loop start here, apart from any schedule's. */
export const CHAOS_FAULT_ID_BASE = 1_000_000;

export class ChaosLoop {
  private timer: NodeJS.Timeout | null = null;
  private next = 0;
  private id = CHAOS_FAULT_ID_BASE;
  private readonly live = new Map<number, { fault: FaultInjection; clearTimer: NodeJS.Timeout | null }>();
  private readonly rng: ReturnType<typeof xoroshiro128plus>;
  private stopped = false;
  private busy: Promise<void> = Promise.resolve();

  constructor(private readonly o: ChaosOptions) {
    this.rng = xoroshiro128plus(o.seed);
  }

  start(): void {
    this.schedule(this.o.firstAfterS);
  }

  /** Faults injected and not cleared yet. */
  get liveCount(): number {
    return this.live.size;
  }

  /** Stops injecting and clears every live fault; returns what could not be cleared. */
  async stop(): Promise<string[]> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.busy;
    const left: string[] = [];
    for (const [id, l] of [...this.live]) {
      if (l.clearTimer) clearTimeout(l.clearTimer);
      try {
        await this.o.backend.clear(l.fault);
        this.live.delete(id);
        this.o.onCleared?.(l.fault, "stop");
      } catch (err) {
        left.push(`chaos fault ${id} (${l.fault.spec.type}): ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return left;
  }

  private schedule(afterS: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.busy = this.tick().finally(() => this.schedule(this.o.intervalS));
    }, afterS * 1000);
  }

  private async tick(): Promise<void> {
    const held = this.o.hold() ?? (this.live.size > 0 ? "a previous chaos fault is still live" : null);
    if (held !== null) {
      this.o.onSkipped?.(held);
      return;
    }
    const spec = this.o.faults[this.next++ % this.o.faults.length]!;
    const key = uniformFloat64(this.rng);
    const fault: FaultInjection = { id: this.id++, atS: this.o.backend.clock.now(), spec, targetKey: key };
    try {
      await this.o.backend.inject(fault);
    } catch (err) {
      this.o.onError?.(`inject ${spec.type}`, err);
      return;
    }
    this.o.onInjected?.(fault);
    const durationS = "durationS" in spec ? spec.durationS : null;
    // pod-kill and memory-leak end by themselves (replacement, OOM kill); a clear still
    // releases what the backend holds for them, after one interval.
    const clearAfterS = durationS ?? this.o.intervalS / 2;
    const entry = { fault, clearTimer: null as NodeJS.Timeout | null };
    this.live.set(fault.id, entry);
    entry.clearTimer = setTimeout(() => {
      entry.clearTimer = null;
      void Promise.resolve(this.o.backend.clear(fault)).then(
        () => {
          this.live.delete(fault.id);
          this.o.onCleared?.(fault, "duration");
        },
        (err) => this.o.onError?.(`clear ${spec.type}`, err),
      );
    }, clearAfterS * 1000);
  }
}
