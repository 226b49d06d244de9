/** SimBackend: the simulator behind the controller loop's Backend interface. */
import { describe, expect, it } from "vitest";
import { Action, type Backend, faultSpecSchema } from "../harness/core/contract.ts";
import { SimBackend } from "./backend.ts";
import { SimEnv } from "./env.ts";

describe("SimBackend", () => {
  it("implements Backend synchronously (plain values, never Promises)", () => {
    const b: Backend = new SimBackend({ seed: 1 });
    const snap = b.observe();
    const outcome = b.execute(Action.Noop);
    const slept = b.clock.sleepUntil(10);
    expect(snap).not.toBeInstanceOf(Promise);
    expect(outcome).toEqual({ applied: true, podId: -1, podName: "", podUid: "", message: "noop" });
    expect(slept).toBeUndefined();
    expect(b.clock.now()).toBe(10);
  });

  it("sleep advances the dynamics by seconds / stepSeconds steps, carrying remainders", () => {
    const b = new SimBackend({ seed: 1 });
    b.clock.sleep(5);
    expect(b.observe().time).toBe(0);
    b.clock.sleep(5);
    expect(b.observe().time).toBe(10);
    b.clock.sleep(35);
    expect(b.observe().time).toBe(40);
    expect(b.clock.now()).toBe(45);
    for (let k = 0; k < 10; k++) b.clock.sleep(0.5);
    expect(b.observe().time).toBe(50);
    expect(() => b.clock.sleep(-1)).toThrow(/got `-1`/);
  });

  it("follows the same trajectory as SimEnv for the same seed, actions and faults", () => {
    const spec = faultSpecSchema.parse({ type: "network-delay", durationS: 60 });
    const fault = { id: 0, atS: 30, spec, targetKey: 0.7 };
    const env = new SimEnv();
    env.reset(9, { schedule: [fault] });
    const b = new SimBackend({ seed: 9 });
    const actions = [0, 2, 0, 0, 4, 1, 0, 3, 0, 0, 0, 0];
    for (const a of actions) {
      const action = a as Action;
      const envSnap = env.step(action).info.snapshot;
      // The loop's order: act, then inject/clear what is due, then let a step pass.
      b.execute(action);
      if (b.clock.now() === 30) b.inject(fault);
      if (b.clock.now() === 90) b.clear(fault);
      b.clock.sleep(10);
      const snap = b.observe();
      expect({ ...snap, podTable: null }).toEqual({ ...envSnap, podTable: null });
    }
  });

  it("drainEvents hands over owned events once, then an empty list", () => {
    const b = new SimBackend({ seed: 2 });
    b.inject({ id: 5, atS: 0, spec: faultSpecSchema.parse({ type: "pod-kill" }), targetKey: 0 });
    b.execute(Action.RestartPod);
    b.clock.sleep(60);
    const events = b.drainEvents();
    expect(events.map((e) => e.kind)).toEqual([
      "fault-injected",
      "pod-replaced",
      "pod-replaced",
      "pod-ready",
      "fault-ended",
      "pod-ready",
    ]);
    expect(events[0]).toMatchObject({ time: 0, podId: 0, faultId: 5, targetRank: 0 });
    // The kill's live span ends when its replacement (pod 3, the first replaced) is ready.
    expect(events.find((e) => e.kind === "fault-ended")).toMatchObject({ podId: 3, faultId: 5 });
    b.clock.sleep(10);
    expect(b.drainEvents()).toEqual([]);
    // Owned: later steps do not overwrite them.
    b.inject({ id: 6, atS: 70, spec: faultSpecSchema.parse({ type: "pod-kill" }), targetKey: 0 });
    expect(events[0]).toMatchObject({ time: 0, faultId: 5 });
  });

  it("names pods by seed and creation counter: the same seed gives the same names, another seed other uids", () => {
    const rows = (b: SimBackend) => {
      const t = b.observe().podTable!;
      return Array.from({ length: t.count }, (_, i) => ({ id: t.id[i], name: t.name[i], uid: t.uid[i] }));
    };
    const a = rows(new SimBackend({ seed: 4 }));
    expect(rows(new SimBackend({ seed: 4 }))).toEqual(a);
    expect(a.map((p) => p.id)).toEqual([0, 1, 2]);
    for (const p of a) {
      expect(p.name).toMatch(new RegExp(`^sim-[0-9a-f]{8}-${p.id}$`));
      expect(p.uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    expect(new Set(a.map((p) => p.uid)).size).toBe(3);
    const other = rows(new SimBackend({ seed: 5 }));
    expect(other.map((p) => p.uid).filter((u) => a.some((p) => p.uid === u))).toEqual([]);
  });

  it("names the pod of every outcome and event, also one whose row is gone", () => {
    const b = new SimBackend({ seed: 2 });
    const before = b.observe().podTable!;
    const first = { podName: before.name[0], podUid: before.uid[0] };
    b.inject({ id: 5, atS: 0, spec: faultSpecSchema.parse({ type: "pod-kill" }), targetKey: 0 });
    const restart = b.execute(Action.RestartPod);
    b.clock.sleep(60);
    const events = b.drainEvents();
    // Pod 0 was killed (its row removed at once): the event still names it.
    expect(events[0]).toMatchObject({ kind: "fault-injected", podId: 0, ...first });
    const t = b.observe().podTable!;
    const live = new Map(Array.from({ length: t.count }, (_, i) => [t.id[i], [t.name[i], t.uid[i]]]));
    for (const e of [restart, ...events.slice(1)]) {
      const [name, uid] = live.get(e.podId) ?? [];
      if (name !== undefined) expect(e, `pod ${e.podId}`).toMatchObject({ podName: name, podUid: uid });
      expect(e.podName).toBe(`${first.podName.replace(/-0$/, "")}-${e.podId}`);
    }
  });
});
