/**
 * Test support: runs the harness CLI in a child process with a marker in its environment
 * and a private TMPDIR, so that whatever it started (replicas, stress-ng, Prometheus and its
 * data directory) can be found afterwards by the marker, whoever else runs on the machine.
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DuckDBInstance } from "@duckdb/node-api";
import { findExecutable } from "../prometheus/runner.ts";
import { strayCgroups } from "./cgroups.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface CliRun {
  readonly marker: string;
  readonly tmp: string;
  readonly exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
  readonly pid: number;
  /** What it printed so far, stdout then stderr. */
  output(): string;
  kill(signal: NodeJS.Signals): void;
}

export function runCli(
  args: readonly string[],
  marker: string,
  env: Record<string, string> = {},
  /** Run as this uid (and gid): how a test meets the kernel refusing what root may do. */
  asUser?: number,
): CliRun {
  const tmp = mkdtempSync(join(tmpdir(), "chaos-rl-cli-"));
  if (asUser !== undefined) chmodSync(tmp, 0o777);
  const child = spawn(process.execPath, ["scripts/harness.mjs", ...args], {
    cwd: ROOT,
    env: { ...process.env, TMPDIR: tmp, CHAOS_RL_MARK: marker, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    ...(asUser !== undefined ? { uid: asUser, gid: asUser } : {}),
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once("exit", (code) => resolve({ code, stdout, stderr })),
  );
  return { marker, tmp, exited, pid: child.pid ?? -1, output: () => stdout + stderr, kill: (s) => child.kill(s) };
}

/** Live processes (not zombies) whose environment carries `marker`. */
export function markedProcesses(marker: string): number[] {
  const found: number[] = [];
  const needle = `CHAOS_RL_MARK=${marker}`;
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      if (readFileSync(`/proc/${d}/environ`, "latin1").split("\0").includes(needle)) found.push(Number(d));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return found;
}

/** Whether `pid` is a stress-ng process (a cpu-stress or memory-leak fault is live). */
export function isStressNg(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").startsWith("stress-ng");
  } catch {
    return false;
  }
}

/**
 * What a finished CLI run left: marked processes, files in its TMPDIR, and cgroups of the
 * testbeds the harness process `testbedPid` made (testbed ids start with their process's pid,
 * so other harnesses running meanwhile do not count).
 */
export function cliLeftovers(run: CliRun, testbedPid: number = run.pid): string[] {
  const left: string[] = [];
  for (const pid of markedProcesses(run.marker)) left.push(`process ${pid}`);
  // tsx's compile cache (`tsx-<uid>`) is tsx's own, kept on purpose between runs.
  for (const f of readdirSync(run.tmp)) if (!f.startsWith("tsx-")) left.push(`file ${join(run.tmp, f)}`);
  for (const g of strayCgroups(`chaos-rl-${testbedPid}-`)) left.push(`cgroup ${g}`);
  return left;
}

/**
 * Whether a LOCAL_SMOKE suite runs: asked for, with its Debian packages present. Under CI a
 * missing package is an error, not a silent skip.
 */
export function smokeSuite(name: string): { run: boolean } {
  const tools = ["prometheus", "stress-ng"].filter((t) => findExecutable(t) === null);
  const wanted = process.env.LOCAL_SMOKE === "1";
  if (wanted && tools.length > 0 && process.env.CI) {
    throw new Error(`${name} needs the Debian packages: ${tools.join(", ")} (apt-get install ${tools.join(" ")})`);
  }
  return { run: wanted && tools.length === 0 };
}

export type Row = Record<string, number | string | boolean | null>;

/** Rows of a finished run's store, opened read-only, BIGINTs as numbers. */
export async function readRows(db: string, sql: string): Promise<Row[]> {
  const inst = await DuckDBInstance.create(db, { access_mode: "READ_ONLY" });
  const c = await inst.connect();
  try {
    const r = await c.runAndReadAll(sql);
    return r
      .getRowObjects()
      .map((o) =>
        Object.fromEntries(
          Object.entries(o).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : (v as Row[string])]),
        ),
      );
  } finally {
    c.closeSync();
    inst.closeSync();
  }
}
