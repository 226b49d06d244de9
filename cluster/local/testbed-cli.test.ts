import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { findExecutable } from "../prometheus/runner.ts";
import { cliLeftovers, runCli } from "./cli-run.ts";
import { readState } from "./testbed-cli.ts";

const hasPrometheus = findExecutable("prometheus") !== null;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function stateFile(): string {
  const d = mkdtempSync(join(tmpdir(), "chaos-rl-state-"));
  dirs.push(d);
  return join(d, "testbed.json");
}

describe.skipIf(!hasPrometheus)("harness testbed up|status|down", () => {
  it("starts the testbed in the background, shows what runs where, and stops it leaving nothing", async () => {
    const state = stateFile();
    const mark = randomUUID();
    const up = runCli(["testbed", "up", "--detach", "--replicas", "2", "--rps", "5", "--state", state], mark);
    dirs.push(up.tmp);
    const upOut = await up.exited;
    expect(upOut.code, upOut.stderr).toBe(0);
    expect(upOut.stdout).toMatch(/balancer +http:\/\/127\.0\.0\.1:\d+/);
    expect(upOut.stdout).toMatch(/prometheus +http:\/\/127\.0\.0\.1:\d+/);
    const s = readState(state)!;
    expect(s.status.pods).toHaveLength(2);
    expect((await fetch(`${s.status.balancerUrl}/api/work`)).status).toBe(200);
    expect((await fetch(`${s.status.prometheusUrl}/-/ready`)).status).toBe(200);

    const status = runCli(["testbed", "status", "--state", state], randomUUID());
    dirs.push(status.tmp);
    const st = await status.exited;
    expect(st.code).toBe(0);
    expect(st.stdout).toContain(s.status.pods[0]!.name);

    const down = runCli(["testbed", "down", "--state", state], randomUUID());
    dirs.push(down.tmp);
    const d = await down.exited;
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/stopped; nothing left behind/);
    expect(cliLeftovers(up, s.pid)).toEqual([]);
  }, 120_000);

  it("names the port when the balancer's port is in use, and leaves nothing", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const run = runCli(["testbed", "up", "--balancer-port", String(port), "--state", stateFile()], randomUUID());
      dirs.push(run.tmp);
      const r = await run.exited;
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(cliLeftovers(run)).toEqual([]);
    } finally {
      blocker.close();
    }
  }, 120_000);
});

describe("harness testbed without Prometheus", () => {
  it("says which Debian package to install, in one line, exit 1", async () => {
    const run = runCli(["testbed", "up", "--replicas", "1", "--state", stateFile()], randomUUID(), {
      PATH: "/nonexistent",
    });
    dirs.push(run.tmp);
    const r = await run.exited;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Prometheus is not installed.*apt-get install prometheus/);
    expect(cliLeftovers(run)).toEqual([]);
  }, 120_000);
});
