/**
 * Events of the simulated deployment, from a preallocated pool: a step that emits no event
 * allocates nothing, and one that does reuses the pooled objects (the pool only grows the
 * first time a step emits more events than ever before).
 */
import type { BackendEvent } from "../harness/core/contract.ts";

export type EventKind = BackendEvent["kind"];

/** A {@link BackendEvent} of the simulator. Pooled: copy what you keep. */
export class SimEvent implements BackendEvent {
  time = 0;
  kind: EventKind = "pod-ready";
  podId = -1;
  /** Name and uid of the pod: set on the caller's copy (SimBackend), "" in the pool. */
  podName = "";
  podUid = "";
  faultId = -1;
  detail = "";
  /** fault-injected on a pod: the target's rank among running pods, oldest first, else -1. */
  targetRank = -1;
}

/** Plain copy of an event, for callers that keep it. */
export function copyEvent(e: SimEvent): SimEvent {
  const c = new SimEvent();
  c.time = e.time;
  c.kind = e.kind;
  c.podId = e.podId;
  c.podName = e.podName;
  c.podUid = e.podUid;
  c.faultId = e.faultId;
  c.detail = e.detail;
  c.targetRank = e.targetRank;
  return c;
}

export class EventLog {
  /** Events since the last {@link EventLog.clear}, in order. The array and its objects are reused. */
  readonly items: SimEvent[] = [];
  private readonly pool: SimEvent[] = [];

  constructor(initial = 32) {
    for (let i = 0; i < initial; i++) this.pool.push(new SimEvent());
  }

  emit(time: number, kind: EventKind, podId: number, faultId: number, detail: string): SimEvent {
    const n = this.items.length;
    if (n === this.pool.length) this.pool.push(new SimEvent());
    const e = this.pool[n];
    e.time = time;
    e.kind = kind;
    e.podId = podId;
    e.faultId = faultId;
    e.detail = detail;
    e.targetRank = -1;
    this.items.push(e);
    return e;
  }

  clear(): void {
    // pop() is inlined by the optimizing compiler; assigning `length` is a builtin call,
    // which costs more than popping the few events of a step.
    const items = this.items;
    while (items.length !== 0) items.pop();
  }
}
