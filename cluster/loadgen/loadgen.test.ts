import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { loadgenOptionsSchema, rateAt } from "./options.ts";

describe("rateAt", () => {
  const opts = (env: Record<string, string>) => loadgenOptionsSchema.parse(env);

  it("is the base rate without a spike, and with an empty factor or end", () => {
    expect(rateAt(opts({ RATE_RPS: "20" }), 0)).toEqual({ rps: 20, spiking: false });
    expect(rateAt(opts({ RATE_RPS: "20", LOAD_FACTOR: "", LOAD_FACTOR_UNTIL: "" }), 0)).toEqual({
      rps: 20,
      spiking: false,
    });
  });

  it("multiplies the base rate until the spike's end, and not after", () => {
    const o = opts({ RATE_RPS: "20", LOAD_FACTOR: "3", LOAD_FACTOR_UNTIL: "1000" });
    expect(rateAt(o, 999.9)).toEqual({ rps: 60, spiking: true });
    expect(rateAt(o, 1000)).toEqual({ rps: 20, spiking: false });
    expect(rateAt(opts({ RATE_RPS: "20", LOAD_FACTOR: "2" }), 1e12)).toEqual({ rps: 40, spiking: true });
  });

  it("refuses a factor that is not a positive number", () => {
    expect(() => opts({ LOAD_FACTOR: "lots" })).toThrow(/LOAD_FACTOR/);
    expect(() => opts({ LOAD_FACTOR: "0" })).toThrow(/LOAD_FACTOR/);
  });
});

describe("the load generator process", () => {
  it("sends the spiked rate, then the base rate once LOAD_FACTOR_UNTIL passes, by its own clock", async () => {
    let hits = 0;
    const server = createServer((_req, res) => {
      hits++;
      res.end("ok");
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as AddressInfo).port;
    const child = spawn(process.execPath, ["--import", "tsx", "cluster/loadgen/main.ts"], {
      cwd: `${import.meta.dirname}/../..`,
      env: {
        ...process.env,
        TARGET_URL: `http://127.0.0.1:${port}/api/work`,
        RATE_RPS: "10",
        LOAD_FACTOR: "4",
        // Far enough ahead that the process has started (tsx takes seconds on a loaded machine).
        LOAD_FACTOR_UNTIL: String(Date.now() / 1000 + 15),
        REPORT_EVERY_S: "0.5",
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const events: { event: string; rps?: number }[] = [];
      const lines = createInterface({ input: child.stdout! });
      // Read until one report after the spike ended (the generator's own timer, no signal from us).
      for await (const l of lines) {
        const e = JSON.parse(l) as { event: string; rps?: number };
        events.push(e);
        if (events.some((x) => x.event === "spike-ended") && e.event === "window") break;
      }
      expect(events[0]).toMatchObject({ event: "started", rps: 40 });
      const ended = events.findIndex((e) => e.event === "spike-ended");
      expect(events[ended]).toMatchObject({ rps: 10 });
      expect(events.slice(1, ended).every((e) => e.event !== "window" || e.rps === 40)).toBe(true);
      expect(events.at(-1)).toMatchObject({ event: "window", rps: 10 });
      expect(hits).toBeGreaterThan(0);
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      expect((await exited)[0]).toBe(0);
    } finally {
      child.kill("SIGKILL");
      server.close();
    }
  }, 120_000);
});
