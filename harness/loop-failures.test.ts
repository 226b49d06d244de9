/**
 * The loop against a backend that fails: transient errors at each call site (retried, then
 * recorded), terminal ones (the episode stops), calls that hang (cancelled and retried), and
 * a `clear` that fails (reported by name, the other faults still cleared). A real cluster
 * does all of these; the simulator never does, so a test backend wraps it.
 */
import { describe, expect, it } from "vitest";
import { SimBackend } from "../sim/backend.ts";
import type { CallSite } from "./backend-calls.ts";
import {
  Action,
  type ActionOutcome,
  type Backend,
  BackendError,
  type BackendEvent,
  type Decision,
  type FaultInjection,
  faultSpecSchema,
  type Snapshot,
} from "./core/contract.ts";
import { guardLimitsSchema } from "./core/guard.ts";
import { type LoopEvent, runEpisode, type StepRecord } from "./loop.ts";

type Failure = "transient" | "terminal" | "hang" | "ok";

/** The simulator, failing at each call site as `plan` says, one entry per call. */
class FlakyBackend implements Backend {
  readonly inner: SimBackend;
  readonly calls: Record<CallSite, number> = { observe: 0, execute: 0, inject: 0, clear: 0 };
  readonly cleared: number[] = [];

  constructor(
    private readonly plan: Partial<Record<CallSite, Failure[]>>,
    seed = 1,
  ) {
    this.inner = new SimBackend({ seed });
  }

  get clock() {
    return this.inner.clock;
  }

  /** Fails this call as planned; a hang is a promise that never settles. */
  private gate(site: CallSite): Promise<never> | null {
    this.calls[site]++;
    const f = this.plan[site]?.shift() ?? "ok";
    if (f === "transient") throw new BackendError("api_unavailable", true, `${site}: 503 Service Unavailable`);
    if (f === "terminal") throw new BackendError("forbidden", false, `${site}: 403 Forbidden`);
    if (f === "hang") return new Promise<never>(() => {});
    return null;
  }

  observe(): Snapshot | Promise<Snapshot> {
    return this.gate("observe") ?? this.inner.observe();
  }
  execute(action: Action): ActionOutcome | Promise<ActionOutcome> {
    return this.gate("execute") ?? this.inner.execute(action);
  }
  inject(fault: FaultInjection): void | Promise<void> {
    return this.gate("inject") ?? this.inner.inject(fault);
  }
  clear(fault: FaultInjection): void | Promise<void> {
    const g = this.gate("clear");
    if (g) return g;
    this.inner.clear(fault);
    this.cleared.push(fault.id);
  }
  drainEvents(): BackendEvent[] {
    return this.inner.drainEvents();
  }
}

const restartEveryStep = { name: "restarter", decide: (): Decision => ({ action: Action.RestartPod, confidence: 1 }) };
const fault = (id: number, atS: number, spec: object): FaultInjection => ({
  id,
  atS,
  spec: faultSpecSchema.parse(spec),
  targetKey: 0,
});

async function run(
  backend: FlakyBackend,
  schedule: FaultInjection[] = [],
  steps = 6,
  terminalExecuteErrors: "stop" | "record" = "stop",
) {
  const out = {
    steps: [] as Omit<StepRecord, "snapshot" | "state">[],
    snapshots: [] as number[],
    events: [] as LoopEvent[],
  };
  const result = runEpisode(
    {
      backend,
      policy: restartEveryStep,
      fallback: null,
      schedule,
      steps,
      stepSeconds: 10,
      codec: { maxReplicas: 10, episodeSeconds: 600 },
      limits: guardLimitsSchema.parse({ minIntervalS: 0 }),
      slo: { latencyMs: 300, errorRate: 0.01 },
      confirmWindowS: 30,
      retry: { initialDelayMs: 1, maxDelayMs: 2, callTimeoutMs: 200 },
      terminalExecuteErrors,
    },
    {
      onStep: ({ snapshot, state: _s, ...r }) => {
        out.steps.push({ ...r });
        out.snapshots.push(snapshot.missing);
      },
      onEvent: (e) => out.events.push(e),
    },
  );
  return { out, result };
}

const kinds = (events: LoopEvent[], kind: string) => events.filter((e) => e.kind === kind);

describe("the loop against a failing backend", () => {
  it("retries a transient observe and records the step as if nothing happened", async () => {
    const b = new FlakyBackend({ observe: ["transient", "transient"] });
    const { out, result } = await run(b);
    expect(await result).toEqual({ status: "completed", steps: 6 });
    expect(kinds(out.events, "backend-retry")).toHaveLength(2);
    expect(kinds(out.events, "backend-error")).toHaveLength(0);
    expect(out.snapshots[0]).toBe(0);
    expect(out.steps[0]).toMatchObject({ reason: "Allowed", applied: true });
  });

  it("records a blind step when observe keeps failing: every metric missing, the guard refuses", async () => {
    const b = new FlakyBackend({ observe: ["transient", "transient", "transient"] });
    const { out, result } = await run(b);
    await result;
    expect(kinds(out.events, "backend-error")[0]!.detail).toMatch(/^observe failed after retries: observe: 503/);
    expect(out.snapshots[0]).not.toBe(0);
    expect(out.steps[0]).toMatchObject({ proposed: Action.RestartPod, executed: 0, reason: "MetricsUnavailable" });
    expect(out.steps[1]).toMatchObject({ reason: "Allowed" });
  });

  it("records ExecuteFailed when execute keeps failing, and goes on", async () => {
    const b = new FlakyBackend({ execute: ["transient", "transient", "transient"] });
    const { out, result } = await run(b);
    expect((await result).status).toBe("completed");
    expect(out.steps[0]).toMatchObject({ reason: "ExecuteFailed", applied: false });
    expect(kinds(out.events, "action-failed")).toHaveLength(1);
    expect(out.steps[1]).toMatchObject({ reason: "Allowed", applied: true });
  });

  it("skips a fault whose injection keeps failing, and never clears what was not injected", async () => {
    const b = new FlakyBackend({ inject: ["transient", "transient", "transient"] });
    const { out, result } = await run(b, [fault(7, 0, { type: "cpu-stress", durationS: 20 })]);
    await result;
    expect(kinds(out.events, "fault-skipped")).toEqual([expect.objectContaining({ faultId: 7 })]);
    expect(b.calls.clear).toBe(0);
  });

  it("cancels a hanging call and retries it", async () => {
    const b = new FlakyBackend({ observe: ["hang"] });
    const { out, result } = await run(b);
    expect((await result).status).toBe("completed");
    expect(kinds(out.events, "backend-retry")[0]!.detail).toMatch(/observe attempt 1 failed/);
    expect(out.snapshots[0]).toBe(0);
  });

  it("stops on a terminal error, clearing every injected fault first", async () => {
    const b = new FlakyBackend({ execute: ["ok", "terminal"] });
    const { result } = await run(b, [
      fault(1, 0, { type: "memory-leak" }),
      fault(2, 0, { type: "network-delay", durationS: 600 }),
    ]);
    await expect(result).rejects.toThrow("execute: 403 Forbidden");
    expect(b.cleared.sort()).toEqual([1, 2]);
  });

  it("with terminalExecuteErrors: record (the controller), a terminal execute error is recorded and the loop goes on", async () => {
    const b = new FlakyBackend({ execute: ["terminal", "terminal", "ok"] });
    const { out, result } = await run(b, [], 6, "record");
    expect(await result).toEqual({ status: "completed", steps: 6 });
    // Not retried within the step (a 403 does not heal in milliseconds): one call per step.
    expect(kinds(out.events, "backend-retry")).toHaveLength(0);
    expect(kinds(out.events, "action-failed").map((e) => e.detail)).toEqual([
      "restart-pod failed (terminal, not retried): execute: 403 Forbidden",
      "restart-pod failed (terminal, not retried): execute: 403 Forbidden",
    ]);
    expect(out.steps.slice(0, 3)).toMatchObject([
      { reason: "ExecuteFailed", applied: false },
      { reason: "ExecuteFailed", applied: false },
      { reason: "Allowed", applied: true },
    ]);
  });

  it("with terminalExecuteErrors: record, an error that is no BackendError (a bug) still stops the episode", async () => {
    const b = new FlakyBackend({});
    b.execute = () => {
      throw new TypeError("a bug");
    };
    const { result } = await run(b, [], 6, "record");
    await expect(result).rejects.toThrow("a bug");
  });

  it("clears every fault in its own call: one that cannot be cleared is named, the rest are cleared", async () => {
    const b = new FlakyBackend({ clear: ["terminal"] });
    const { result } = await run(b, [
      fault(1, 0, { type: "memory-leak" }),
      fault(2, 0, { type: "network-delay", durationS: 600 }),
    ]);
    await expect(result).rejects.toMatchObject({
      code: "faults_not_cleared",
      message: "Faults left behind: fault 1 (memory-leak): clear: 403 Forbidden",
    });
    expect(b.cleared).toEqual([2]);
  });
});
