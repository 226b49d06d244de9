import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { type DemoService, startDemoService } from "./server.ts";

const started: DemoService[] = [];
afterEach(async () => {
  for (const s of started.splice(0)) await s.close();
});

async function start(opts: Parameters<typeof startDemoService>[0] = {}) {
  const s = await startDemoService(opts);
  started.push(s);
  return { s, url: `http://127.0.0.1:${s.port}` };
}

describe("demo service over real HTTP", () => {
  it("answers liveness and readiness", async () => {
    const { url } = await start();
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect((await fetch(`${url}/ready`)).status).toBe(200);
    expect((await fetch(`${url}/nope`)).status).toBe(404);
  });

  it("is not ready during its warm-up", async () => {
    const { url } = await start({ WARMUP_MS: 60_000 });
    expect((await fetch(`${url}/ready`)).status).toBe(503);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it("burns about the configured CPU time per /api/work request", async () => {
    const { url } = await start({ WORK_MS: 20, ALLOC_KIB: 64 });
    const before = process.cpuUsage();
    for (let i = 0; i < 10; i++) expect((await fetch(`${url}/api/work`)).status).toBe(200);
    const used = process.cpuUsage(before);
    const cpuMs = (used.user + used.system) / 1000;
    // 10 x 20 ms of calibrated work; fetch and HTTP parsing add some, a busy machine cannot remove any.
    expect(cpuMs).toBeGreaterThan(150);
    expect(cpuMs).toBeLessThan(1000);
  });

  it("counts requests by code and route and times them in the histogram", async () => {
    const { url } = await start({ WORK_MS: 1 });
    for (let i = 0; i < 3; i++) await fetch(`${url}/api/work`);
    await fetch(`${url}/missing`);
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/http_requests_total\{code="200",route="\/api\/work"\} 3/);
    expect(text).toMatch(/http_requests_total\{code="404",route="other"\} 1/);
    expect(text).toMatch(/http_request_duration_seconds_count\{code="200",route="\/api\/work"\} 3/);
    expect(text).toMatch(/http_request_duration_seconds_bucket\{le="0.3",code="200",route="\/api\/work"/);
    expect(text).toMatch(/^process_cpu_seconds_total/m);
    expect(text).toMatch(/^process_resident_memory_bytes/m);
  });

  it("runs as its own process and reports the port it got", async () => {
    const main = fileURLToPath(new URL("./main.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", main], {
      env: { ...process.env, PORT: "0", WORK_MS: "1" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const [line] = (await once(createInterface({ input: child.stdout! }), "line")) as [string];
      const { event, port } = JSON.parse(line) as { event: string; port: number };
      expect(event).toBe("listening");
      expect((await fetch(`http://127.0.0.1:${port}/api/work`)).status).toBe(200);
    } finally {
      child.kill("SIGTERM");
    }
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code).toBe(0);
  });
});
