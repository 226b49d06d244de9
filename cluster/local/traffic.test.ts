import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { type DemoService, startDemoService } from "../service/server.ts";
import { type Balancer, startBalancer } from "./balancer.ts";
import { LoadGenerator } from "./loadgen.ts";
import { TrafficProcess } from "./traffic.ts";
import { waitFor } from "./wait.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function replicas(n: number): Promise<DemoService[]> {
  const out: DemoService[] = [];
  for (let i = 0; i < n; i++) {
    const s = await startDemoService({ WORK_MS: 0, ALLOC_KIB: 1 });
    cleanups.push(() => s.close());
    out.push(s);
  }
  return out;
}

async function lb(): Promise<Balancer> {
  const b = await startBalancer({ namespace: "ns" });
  cleanups.push(() => b.close());
  return b;
}

async function metrics(b: Balancer): Promise<string> {
  return (await fetch(`http://127.0.0.1:${b.metricsPort}/metrics`)).text();
}

describe("balancer", () => {
  it("spreads requests round-robin over its endpoints and labels them with the upstream pod", async () => {
    const [a, b] = await replicas(2);
    const bal = await lb();
    await bal.setEndpoints([
      { pod: "demo-x-a", port: a!.port },
      { pod: "demo-x-b", port: b!.port },
    ]);
    for (let i = 0; i < 6; i++) expect((await fetch(`http://127.0.0.1:${bal.port}/api/work`)).status).toBe(200);
    const text = await metrics(bal);
    expect(text).toContain('http_requests_total{namespace="ns",pod="demo-x-a",code="200",route="/api/work"} 3');
    expect(text).toContain('http_requests_total{namespace="ns",pod="demo-x-b",code="200",route="/api/work"} 3');
  });

  it("answers 503 with no endpoint and 502 when the upstream is gone", async () => {
    const [a] = await replicas(1);
    const bal = await lb();
    expect((await fetch(`http://127.0.0.1:${bal.port}/api/work`)).status).toBe(503);
    const port = a!.port;
    await a!.close();
    await bal.setEndpoints([{ pod: "demo-x-a", port }]);
    expect((await fetch(`http://127.0.0.1:${bal.port}/api/work`)).status).toBe(502);
    const text = await metrics(bal);
    expect(text).toContain('http_requests_total{namespace="ns",pod="",code="503",route="/api/work"} 1');
    expect(text).toContain('http_requests_total{namespace="ns",pod="demo-x-a",code="502",route="/api/work"} 1');
  });

  it("delays a replica's traffic through its delaying proxy, visible in the ingress histogram", async () => {
    const [a] = await replicas(1);
    const bal = await lb();
    await bal.setEndpoints([{ pod: "demo-x-a", port: a!.port, delayMs: 250 }]);
    const t0 = performance.now();
    expect((await fetch(`http://127.0.0.1:${bal.port}/api/work`)).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
    const text = await metrics(bal);
    expect(text).toMatch(
      /http_request_duration_seconds_bucket\{le="0.2",namespace="ns",pod="demo-x-a",code="200",route="\/api\/work"\} 0/,
    );
    await bal.setEndpoints([{ pod: "demo-x-a", port: a!.port }]);
    const t1 = performance.now();
    await fetch(`http://127.0.0.1:${bal.port}/api/work`);
    // Without the delay the request is fast; a busy machine may still take some ms.
    expect(performance.now() - t1).toBeLessThan(250);
  });
});

describe("open-loop load generator", () => {
  it("keeps its schedule when the service is slow and times latency from the scheduled send", async () => {
    const [a] = await replicas(1);
    const bal = await lb();
    await bal.setEndpoints([{ pod: "demo-x-a", port: a!.port, delayMs: 300 }]);
    const gen = new LoadGenerator({ url: `http://127.0.0.1:${bal.port}/api/work` });
    cleanups.push(() => gen.stop());
    gen.takeWindow();
    const t0 = performance.now();
    gen.setRate(50);
    // Rate needs wall time: let about a second pass, then compare with what elapsed.
    await sleep(1000);
    gen.setRate(0);
    const elapsedS = (performance.now() - t0) / 1000;
    const w1 = gen.takeWindow();
    // Every 300 ms answer is slower than the 20 ms gap: a closed loop would have fallen behind.
    expect(Math.abs(w1.scheduled - (Math.floor(elapsedS * 50) + 1))).toBeLessThanOrEqual(2);
    let slowest = 0;
    await waitFor(
      () => {
        const w = gen.takeWindow();
        slowest = Math.max(slowest, w.p99Ms || 0);
        return w.inFlight === 0;
      },
      { timeoutMs: 10_000, what: "answers" },
    );
    expect(slowest).toBeGreaterThanOrEqual(300);
  });

  it("runs in its own process and reports client-side windows", async () => {
    const [a] = await replicas(1);
    const gen = await TrafficProcess.start("loadgen", { url: `http://127.0.0.1:${a!.port}/api/work` });
    cleanups.push(() => gen.stop());
    await gen.setRate(100);
    await waitFor(async () => (await gen.takeWindow()).completed > 0, { timeoutMs: 10_000, what: "responses" });
    await gen.setRate(0);
    const w = await gen.takeWindow();
    expect(w.errors).toBe(0);
  });
});
