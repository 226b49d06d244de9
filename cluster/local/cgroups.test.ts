import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import {
  type CgroupDriver,
  joinCommand,
  NONE_FALLBACK,
  openCgroups,
  parseMountinfo,
  parseProcCgroup,
  strayCgroups,
} from "./cgroups.ts";
import { cliLeftovers, runCli } from "./cli-run.ts";
import { waitFor } from "./wait.ts";

const MOUNTINFO_V1 = `31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw`;

describe("cgroup discovery", () => {
  it("finds v1 controller mounts and the v2 hierarchy in mountinfo", () => {
    const m = parseMountinfo(MOUNTINFO_V1);
    expect(m.v1.get("cpu")).toBe("/sys/fs/cgroup/cpu");
    expect(m.v1.get("memory")).toBe("/sys/fs/cgroup/memory");
    expect(m.v2).toBe("/sys/fs/cgroup/unified");
  });

  it("reads the process's own group per controller", () => {
    const own = parseProcCgroup("4:memory:/process_api/abc\n2:cpu,cpuacct:/\n0::/user.slice");
    expect(own.v1.get("memory")).toBe("/process_api/abc");
    expect(own.v1.get("cpuacct")).toBe("/");
    expect(own.v2).toBe("/user.slice");
  });

  it("falls back to none, naming why, when asked for a hierarchy that is not there", () => {
    const d = openCgroups({ testbedId: "t", mode: "v2", procRoot: "/nonexistent" });
    expect(d.mode).toBe("none");
    expect(d.detail).toMatch(/no cgroup information/);
  });
});

// Real limits on this machine (root, cgroup v1 writable). Elsewhere the driver says "none" and these are skipped.
const probe = openCgroups({ testbedId: `probe-${process.pid}` });
probe.close();
const real = probe.mode !== "none";

describe.skipIf(!real)(`real cgroups (${probe.mode})`, () => {
  let driver: CgroupDriver | null = null;
  afterEach(() => {
    driver?.close();
    expect(driver!.roots.filter((r) => existsSync(r))).toEqual([]);
    driver = null;
  });

  it("OOM-kills an allocation past the memory limit inside the group, and counts it", async () => {
    driver = openCgroups({ testbedId: `t-${process.pid}-oom` });
    const g = driver.create("pod-a", { cpuCores: 1, memoryBytes: 64 * 1024 * 1024 });
    const argv = joinCommand(g, ["stress-ng", "--vm", "1", "--vm-bytes", "200M", "--vm-keep", "--oomable", "-t", "20"]);
    const child = spawn(argv[0]!, argv.slice(1), { stdio: "ignore" });
    // Listened for now: stress-ng ends by itself once its worker is OOM-killed, which can be
    // before the kill is counted, and an exit already past is never emitted again.
    const exited = once(child, "exit");
    await waitFor(() => g.oomKills() >= 1, { timeoutMs: 20_000, what: "an OOM kill in the group" });
    expect(g.workingSetBytes()).toBeLessThanOrEqual(64 * 1024 * 1024);
    child.kill("SIGKILL");
    g.killAll();
    await exited;
    g.remove();
  });

  it("throttles CPU to the quota and accounts it", async () => {
    driver = openCgroups({ testbedId: `t-${process.pid}-cpu` });
    const g = driver.create("pod-b", { cpuCores: 0.2, memoryBytes: 256 * 1024 * 1024 });
    const argv = joinCommand(g, ["stress-ng", "--cpu", "1", "-t", "30"]);
    const child = spawn(argv[0]!, argv.slice(1), { stdio: "ignore" });
    const exited = once(child, "exit");
    await waitFor(() => g.pids().length >= 2, { timeoutMs: 10_000, what: "stress-ng in the group" });
    const c0 = g.cpuSeconds();
    const t0 = performance.now();
    await waitFor(() => performance.now() - t0 >= 1500, { timeoutMs: 5_000, what: "1.5 s to pass" });
    const rate = (g.cpuSeconds() - c0) / ((performance.now() - t0) / 1000);
    // 0.2 cores of quota: never more (plus a little for the period boundary), and some work got done.
    expect(rate).toBeLessThan(0.3);
    expect(rate).toBeGreaterThan(0.02);
    g.freeze();
    const f0 = g.cpuSeconds();
    const t1 = performance.now();
    await waitFor(() => performance.now() - t1 >= 500, { timeoutMs: 5_000, what: "0.5 s to pass" });
    expect(g.cpuSeconds() - f0).toBeLessThan(0.01);
    g.killAll();
    await exited;
    g.remove();
    expect(strayCgroups(`chaos-rl-t-${process.pid}-cpu`).filter((p) => p.endsWith("pod-b"))).toEqual([]);
  });
});

// The kernel itself refusing: the same hierarchy, opened by an unprivileged user (nobody).
// Needs root to switch user, and a hierarchy root can write (else nothing would be refused).
const canDrop = real && process.getuid?.() === 0 && existsSync("/usr/bin/setpriv");

describe.skipIf(!canDrop)("cgroups present but the write refused", () => {
  it("falls back to none, naming the refusal and what stands in, and leaves no group", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "chaos-rl-nobody-"));
    chmodSync(tmp, 0o777);
    try {
      const script = join(tmp, "probe.ts");
      writeFileSync(
        script,
        `import { probeLimits } from ${JSON.stringify(fileURLToPath(new URL("./cgroups.ts", import.meta.url)))};\n` +
          "console.log(JSON.stringify(probeLimits()));\n",
      );
      const child = spawn(
        "setpriv",
        ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "--import", "tsx", script],
        { cwd: fileURLToPath(new URL("../..", import.meta.url)), env: { ...process.env, TMPDIR: tmp } },
      );
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on("data", (d: Buffer) => {
        err += d.toString();
      });
      const [code] = (await once(child, "exit")) as [number | null];
      expect(code, err).toBe(0);
      const probed = JSON.parse(out.trim()) as { mode: string; detail: string };
      expect(probed.mode).toBe("none");
      expect(probed.detail).toMatch(/EACCES|permission denied/i);
      expect(probed.detail).toContain(NONE_FALLBACK);
      expect(strayCgroups("chaos-rl-")).not.toContainEqual(expect.stringContaining("-probe"));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);
});

describe.skipIf(!canDrop)("harness run --backend local without permission for cgroups", () => {
  it("says so in one line naming the fallback before its first episode; stopped, it leaves nothing", async () => {
    const dbDir = mkdtempSync(join(tmpdir(), "chaos-rl-nobody-db-"));
    chmodSync(dbDir, 0o777);
    const run = runCli(
      ["run", "scenarios/local-smoke.yaml", "--seeds", "1", "--policies", "none", "--db", join(dbDir, "t.duckdb")],
      randomUUID(),
      {},
      65534,
    );
    try {
      // The line comes before the run starts; the run is then stopped, not waited for.
      const warning = () =>
        run
          .output()
          .split("\n")
          .find((l) => l.includes("testbed limits:"));
      await waitFor(() => warning() !== undefined, { timeoutMs: 90_000, what: "the testbed limits warning" });
      const line = warning()!;
      run.kill("SIGTERM");
      const r = await run.exited;
      expect(line).toMatch(/no writable cgroups \(.*EACCES/);
      expect(line).toContain(NONE_FALLBACK);
      expect(r.code).not.toBe(0);
      expect(cliLeftovers(run)).toEqual([]);
    } finally {
      run.kill("SIGKILL");
      rmSync(dbDir, { recursive: true, force: true });
      rmSync(run.tmp, { recursive: true, force: true });
    }
  }, 180_000);
});
