import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { queryInstant } from "./api.ts";
import { PrometheusError, PrometheusErrorCode } from "./errors.ts";
import { findExecutable, startPrometheus } from "./runner.ts";
import { startTestExporter } from "./test-exporter.ts";
import { fakeDeployment, portFree, processGone } from "./test-helpers.ts";

// Without Debian's prometheus a developer's run skips the tests that start it; CI (which
// installs it) fails instead. The missing-binary test runs everywhere.
const present = findExecutable("prometheus") !== null;

describe.runIf(present || process.env.CI)("startPrometheus", () => {
  it("starts the Debian binary ready to answer, and stop() leaves no process, data directory or port", async () => {
    const prom = await startPrometheus({ targets: [] });
    expect(existsSync(prom.dir)).toBe(true);
    expect(processGone(prom.pid)).toBe(false);
    const ready = await fetch(`${prom.url}/-/ready`);
    expect(ready.status).toBe(200);
    await prom.stop();
    expect(processGone(prom.pid)).toBe(true);
    expect(existsSync(prom.dir)).toBe(false);
    expect(await portFree(prom.port)).toBe(true);
    await prom.stop(); // idempotent
  });

  it("waits for a scrape of every target, and tells a down target apart when asked to", async () => {
    // A closed port: Prometheus tries it every interval and marks it down.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const prom = await startPrometheus({ targets: [{ address: `127.0.0.1:${port}` }], scrapeIntervalS: 0.5 });
    try {
      await prom.waitForScrape({ requireUp: false });
      const err = await prom.waitForScrape({ requireUp: true, timeoutMs: 1_500 }).catch((e) => e);
      expect(err).toBeInstanceOf(PrometheusError);
      expect(err.code).toBe(PrometheusErrorCode.Unavailable);
      expect(err.transient).toBe(true);
    } finally {
      await prom.stop();
    }
  });

  it("follows new targets given to setTargets, with their labels", async () => {
    const exporter = await startTestExporter(fakeDeployment(1));
    const prom = await startPrometheus({ targets: [], scrapeIntervalS: 0.5 });
    try {
      await prom.setTargets([{ address: exporter.address, job: "kubelet", labels: { zone: "a" } }]);
      const since = Date.now();
      await prom.waitForScrape({ sinceMs: since });
      const reply = await queryInstant(prom.url, 'up{job="kubelet",zone="a"}', Date.now() / 1000, { timeoutMs: 5_000 });
      expect(reply.data.result.map((r) => r.value[1])).toEqual(["1"]);
      expect(exporter.scrapes).toBeGreaterThan(0);
    } finally {
      await prom.stop();
      await exporter.close();
    }
  });

  it("refuses a port in use with a clear error", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const err = await startPrometheus({ targets: [], port }).catch((e) => e);
      expect(err).toBeInstanceOf(PrometheusError);
      expect(err.code).toBe(PrometheusErrorCode.PortInUse);
      expect(err.message).toBe(
        `Cannot start Prometheus: port 127.0.0.1:${port} is in use; choose another port or leave it out to use a free one`,
      );
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it("cleans up its directory when the server exits before it is ready", async () => {
    // `false` stands in for a server that dies at start (bad flags, corrupt TSDB).
    const before = new Set(readdirSync(tmpdir()).filter((f) => f.startsWith("chaos-rl-prometheus-")));
    const err = await startPrometheus({ targets: [], binary: "false" }).catch((e) => e);
    expect(err).toBeInstanceOf(PrometheusError);
    expect(err.code).toBe(PrometheusErrorCode.StartFailed);
    expect(err.message).toMatch(/^Prometheus exited \(1\) before become ready/);
    const after = readdirSync(tmpdir()).filter((f) => f.startsWith("chaos-rl-prometheus-"));
    expect(after.filter((f) => !before.has(f))).toEqual([]);
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`stops the server and deletes its directory when the harness gets ${signal}`, async () => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", fileURLToPath(new URL("./runner-child.ts", import.meta.url))],
        {
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      const exited = new Promise<string | null>((r) => child.once("exit", (_code, sig) => r(sig)));
      const line = await new Promise<string>((resolve, reject) => {
        let buf = "";
        child.stdout!.on("data", (c: Buffer) => {
          buf += c.toString();
          if (buf.includes("\n")) resolve(buf.split("\n")[0]!);
        });
        child.once("exit", () => reject(new Error(`child exited before starting Prometheus: ${buf}`)));
      });
      const info = JSON.parse(line) as { pid: number; dir: string; port: number };
      expect(processGone(info.pid)).toBe(false);
      child.kill(signal);
      // It dies of the signal, as the default action would, after cleaning up.
      expect(await exited).toBe(signal);
      expect(processGone(info.pid)).toBe(true);
      expect(existsSync(info.dir)).toBe(false);
      expect(await portFree(info.port)).toBe(true);
    });
  }
});

describe("startPrometheus without the binary", () => {
  it("names the Debian package when the binary is missing", async () => {
    const err = await startPrometheus({ targets: [], binary: "prometheus-not-installed-here" }).catch((e) => e);
    expect(err).toBeInstanceOf(PrometheusError);
    expect(err.code).toBe(PrometheusErrorCode.NotInstalled);
    expect(err.message).toContain("apt-get install prometheus");
    expect(err.message.split("\n")).toHaveLength(1);
  });
});
