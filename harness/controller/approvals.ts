/**
 * The approval queue of `approve` mode: the loop files a request when the guard would run
 * an action once approved, and goes on observing; a person approves or rejects it through
 * the controller's HTTP API or `harness approve ID`; an approved request runs at a later
 * step, through the guard again on that step's metrics. Requests expire (`ttlS` after they
 * were filed) whether approved or not: an approval is for the situation it was asked in.
 *
 * At most one open request (pending or approved) per action: a policy that proposes the
 * same restart every step does not flood the person with copies.
 *
 * Every change is persisted through `persist` (controller/state.ts) before the call
 * returns, so a restarted controller finds the same queue.
 */
import { ACTION_NAMES, type Action, type Snapshot } from "../core/contract.ts";
import type { ApprovalGate, ApprovedRequest } from "../loop.ts";
import type { Approval, ControllerState } from "./state.ts";

export interface ApprovalQueueOptions {
  /** Seconds a request stays open. */
  readonly ttlS: number;
  /** Unix ms of loop clock time `t` (the loop speaks clock seconds, the queue persists Unix time). */
  readonly toUnixMs: (t: number) => number;
  /** Wall time now, Unix ms (HTTP approvals arrive between steps). @default Date.now */
  readonly nowMs?: () => number;
  /** Called after every change with the whole state, to persist it. */
  readonly persist: () => void;
  /** Called for every change of a request's status, for the audit trail. */
  readonly onChange?: (a: Readonly<Approval>) => void;
  /** Settled requests kept in the state for `GET /pending?all`; older ones are dropped. @default 200 */
  readonly keepSettled?: number;
}

/** Why `approve`/`reject` refused: unknown id, or a request that is no longer pending. */
export class ApprovalError extends Error {
  override readonly name = "ApprovalError";
  constructor(
    readonly code: "NotFound" | "NotPending",
    message: string,
  ) {
    super(message);
  }
}

export class ApprovalQueue implements ApprovalGate {
  constructor(
    /** The controller's persisted state; this queue owns its `approvals` and `nextApprovalId`. */
    private readonly state: ControllerState,
    private readonly o: ApprovalQueueOptions,
  ) {}

  /** Every request still open (pending or approved), oldest first, after expiring stale ones. */
  open(): Approval[] {
    this.expire(this.nowMs());
    return this.state.approvals.filter((a) => a.status === "pending" || a.status === "approved");
  }

  /** Every request the state keeps, oldest first. */
  all(): Approval[] {
    this.expire(this.nowMs());
    return [...this.state.approvals];
  }

  get(id: string): Approval | undefined {
    return this.state.approvals.find((a) => a.id === id);
  }

  approve(id: string, by: string): Approval {
    return this.decide(id, "approved", by);
  }

  reject(id: string, by: string): Approval {
    return this.decide(id, "rejected", by);
  }

  // ApprovalGate ------------------------------------------------------------

  approved(now: number): ApprovedRequest | null {
    this.expire(this.o.toUnixMs(now));
    const a = this.state.approvals.find((x) => x.status === "approved");
    return a ? { id: a.id, action: a.action as Action } : null;
  }

  request(action: Action, snapshot: Readonly<Snapshot>, now: number, reason: string): string {
    const at = this.o.toUnixMs(now);
    this.expire(at);
    const open = this.state.approvals.find(
      (a) => a.action === action && (a.status === "pending" || a.status === "approved"),
    );
    if (open) return open.id;
    const a: Approval = {
      id: String(this.state.nextApprovalId++),
      action,
      actionName: ACTION_NAMES[action],
      status: "pending",
      reason,
      requestedAtMs: at,
      expiresAtMs: at + this.o.ttlS * 1000,
      decidedAtMs: null,
      decidedBy: null,
      observed: {
        desiredReplicas: snapshot.desiredReplicas,
        readyReplicas: snapshot.readyReplicas,
        cpu: finite(snapshot.cpu),
        latencyMs: finite(snapshot.latencyMs),
        errorRate: finite(snapshot.errorRate),
      },
      detail: null,
    };
    this.state.approvals.push(a);
    this.changed(a);
    return a.id;
  }

  settle(id: string, outcome: "executed" | "failed", now: number, detail: string): void {
    const a = this.get(id);
    if (a?.status !== "approved") return;
    a.status = outcome;
    a.detail = detail;
    a.decidedAtMs ??= this.o.toUnixMs(now);
    this.changed(a);
  }

  // -------------------------------------------------------------------------

  private decide(id: string, status: "approved" | "rejected", by: string): Approval {
    const now = this.nowMs();
    this.expire(now);
    const a = this.get(id);
    if (!a) throw new ApprovalError("NotFound", `No approval request ${id}`);
    if (a.status !== "pending") throw new ApprovalError("NotPending", `Request ${id} is ${a.status}, not pending`);
    a.status = status;
    a.decidedAtMs = now;
    a.decidedBy = by;
    this.changed(a);
    return a;
  }

  private expire(nowMs: number): void {
    for (const a of this.state.approvals) {
      if ((a.status === "pending" || a.status === "approved") && a.expiresAtMs <= nowMs) {
        a.status = "expired";
        a.detail = a.decidedBy === null ? "nobody decided in time" : `approved by ${a.decidedBy} but never ran`;
        this.changed(a);
      }
    }
  }

  private changed(a: Approval): void {
    const keep = this.o.keepSettled ?? 200;
    const settled = this.state.approvals.filter((x) => x.status !== "pending" && x.status !== "approved");
    if (settled.length > keep) {
      const drop = new Set(settled.slice(0, settled.length - keep));
      this.state.approvals = this.state.approvals.filter((x) => !drop.has(x));
    }
    this.o.persist();
    this.o.onChange?.(a);
  }

  private nowMs(): number {
    return (this.o.nowMs ?? Date.now)();
  }
}

function finite(x: number): number {
  return Number.isFinite(x) ? x : -1;
}
