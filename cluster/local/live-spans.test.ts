import { describe, expect, it } from "vitest";
import { LiveSpans } from "./live-spans.ts";

const ids = (e: { faultId: number; cause: string }[]) => e.map((x) => `${x.faultId}:${x.cause}`);

describe("LiveSpans (the contract's FaultEndCause on testbed pods)", () => {
  it("ends a pod-kill when its replacement is ready, not when the killed pod goes", () => {
    const t = new LiveSpans();
    t.injected(1, "pod-kill", "demo-a");
    expect(t.podDeleted("demo-a")).toEqual([]);
    t.podCreated("demo-d");
    expect(t.podReady("demo-a")).toEqual([]);
    expect(ids(t.podReady("demo-d"))).toEqual(["1:replacement-ready"]);
    expect(t.isLive(1)).toBe(false);
  });

  it("ends a memory leak when its OOM-killed container is ready again", () => {
    const t = new LiveSpans();
    t.injected(2, "memory-leak", "demo-b");
    expect(t.podReady("demo-b")).toEqual([]); // ready before the OOM kill: still leaking
    t.podOomKilled("demo-b");
    expect(ids(t.podReady("demo-b"))).toEqual(["2:replacement-ready"]);
  });

  it("hands a leak on to a restart action's fresh pod, but ends stress with its pod", () => {
    const t = new LiveSpans();
    t.injected(3, "memory-leak", "demo-c");
    t.injected(4, "cpu-stress", "demo-c");
    t.restarting("demo-c");
    expect(ids(t.podDeleted("demo-c"))).toEqual(["4:pod-deleted"]);
    t.podCreated("demo-e");
    expect(ids(t.podReady("demo-e"))).toEqual(["3:replacement-ready"]);
  });

  it("ends a leak whose pod a scale-down deletes, and timed faults when cleared, once", () => {
    const t = new LiveSpans();
    t.injected(5, "memory-leak", "demo-f");
    expect(ids(t.podDeleted("demo-f"))).toEqual(["5:pod-deleted"]);
    t.injected(6, "network-delay", "demo-g");
    t.injected(7, "load-spike", null);
    expect(ids(t.cleared(6))).toEqual(["6:cleared"]);
    expect(t.cleared(6)).toEqual([]);
    expect(ids(t.cleared(7))).toEqual(["7:cleared"]);
    // A pod-kill is not ended by its clear (the episode's cleanup clears every fault).
    t.injected(8, "pod-kill", "demo-h");
    expect(t.cleared(8)).toEqual([]);
  });
});
