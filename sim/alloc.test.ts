/**
 * The hot path allocates nothing: once the JIT has warmed up, steady-state steps that emit
 * no event must not trigger a single garbage collection nor grow the heap. (A double
 * returned or passed across a call V8 does not inline is boxed: this is what catches it.)
 */
import { type PerformanceEntry, PerformanceObserver } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { Action } from "../harness/core/contract.ts";
import { SimEnv, type SimEnvConfig } from "./env.ts";

describe("allocation", () => {
  it("steady-state SimEnv steps (10 pods, no event) allocate nothing", async () => {
    const env = new SimEnv();
    const config: SimEnvConfig = {
      params: { initialReplicas: 10, maxReplicas: 12, episodeSteps: 10_000_000 },
      workload: { pattern: "random-walk", baseRps: 500 },
    };
    env.reset(1, config);
    for (let k = 0; k < 200_000; k++) env.step(Action.Noop); // warm-up: optimised code
    const gcs: PerformanceEntry[] = [];
    const observer = new PerformanceObserver((list) => gcs.push(...list.getEntries()));
    observer.observe({ entryTypes: ["gc"] });
    const before = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    let events = 0;
    for (let k = 0; k < 300_000; k++) events += env.step(Action.Noop).info.events.length;
    const t1 = performance.now();
    const grown = process.memoryUsage().heapUsed - before;
    await new Promise((r) => setTimeout(r, 50)); // GC entries arrive asynchronously
    observer.disconnect();
    expect(events).toBe(0);
    // 300k steps allocating even one 12-byte heap number each would be 3.6 MB.
    expect(grown).toBeLessThan(256 * 1024);
    // Only collections that started inside the loop: the test runner's own work before
    // and after it (messages to the main process) may allocate and collect.
    expect(gcs.filter((g) => g.startTime >= t0 && g.startTime <= t1)).toHaveLength(0);
  });
});
