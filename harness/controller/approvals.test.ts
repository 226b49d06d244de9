import { describe, expect, it } from "vitest";
import { Action, createSnapshot } from "../core/contract.ts";
import { ApprovalError, ApprovalQueue } from "./approvals.ts";
import { emptyState } from "./state.ts";

function queue(ttlS = 60) {
  const state = emptyState();
  let wall = 1_000_000;
  let persisted = 0;
  const changes: string[] = [];
  const q = new ApprovalQueue(state, {
    ttlS,
    toUnixMs: (t) => 1_000_000 + t * 1000,
    nowMs: () => wall,
    persist: () => persisted++,
    onChange: (a) => changes.push(`${a.id}:${a.status}`),
  });
  return { q, state, changes, persisted: () => persisted, setWall: (ms: number) => (wall = ms) };
}

describe("approval queue", () => {
  it("files one open request per action, however often the policy proposes it", () => {
    const { q, changes } = queue();
    const s = createSnapshot();
    expect(q.request(Action.RestartPod, s, 0, "crashed pod")).toBe("1");
    expect(q.request(Action.RestartPod, s, 10, "crashed pod")).toBe("1");
    expect(q.request(Action.ScaleUp, s, 10, "cpu")).toBe("2");
    expect(q.open().map((a) => a.actionName)).toEqual(["restart-pod", "scale-up"]);
    expect(changes).toEqual(["1:pending", "2:pending"]);
  });

  it("hands an approved request to the loop, persists every change, and settles it", () => {
    const { q, persisted, changes } = queue();
    const id = q.request(Action.ScaleUp, createSnapshot(), 0, "");
    expect(q.approved(5)).toBeNull();
    q.approve(id, "alice");
    expect(q.approved(5)).toEqual({ id, action: Action.ScaleUp });
    q.settle(id, "executed", 10, "scaled to 4 replicas");
    expect(q.approved(15)).toBeNull();
    expect(q.get(id)).toMatchObject({ status: "executed", decidedBy: "alice", detail: "scaled to 4 replicas" });
    expect(persisted()).toBe(3);
    expect(changes).toEqual(["1:pending", "1:approved", "1:executed"]);
  });

  it("refuses to decide an unknown or settled request", () => {
    const { q } = queue();
    const id = q.request(Action.ScaleUp, createSnapshot(), 0, "");
    q.reject(id, "bob");
    expect(() => q.approve(id, "alice")).toThrow(new ApprovalError("NotPending", "Request 1 is rejected, not pending"));
    expect(() => q.approve("9", "alice")).toThrow("No approval request 9");
    expect(q.approved(1)).toBeNull();
  });

  it("expires a request nobody decided, and an approval that never ran, after the ttl", () => {
    const { q, setWall } = queue(60);
    const a = q.request(Action.ScaleUp, createSnapshot(), 0, "");
    const b = q.request(Action.RestartPod, createSnapshot(), 0, "");
    q.approve(b, "alice");
    expect(q.approved(59)).toMatchObject({ id: b });
    expect(q.approved(60)).toBeNull();
    expect(q.get(a)).toMatchObject({ status: "expired", detail: "nobody decided in time" });
    expect(q.get(b)).toMatchObject({ status: "expired", detail: "approved by alice but never ran" });
    // A person too late gets a clear refusal.
    setWall(1_000_000 + 61_000);
    expect(() => q.approve(a, "carol")).toThrow("Request 1 is expired, not pending");
  });
});
