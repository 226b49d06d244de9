/**
 * Runs the `harness` bin as a user would, for the CLI's tests: a child process, its exit
 * code, stdout and stderr. Asynchronous, so a test waits on the child's exit (an event)
 * and vitest's own timer keeps running; each spawn loads tsx and the CLI, which took ~10 s
 * on a loaded 2-core machine, so tests that spawn set generous timeouts (SPAWN_TEST_MS).
 */
import { spawn } from "node:child_process";
import { join } from "node:path";

export const CLI = join(import.meta.dirname, "..", "scripts", "harness.mjs");

/** Per-test timeout for a test that spawns the CLI a few times. */
export const SPAWN_TEST_MS = 300_000;

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The first line on stderr that is neither a log record nor progress: the error the user reads. */
  readonly firstError: string;
}

export function runCli(args: readonly string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += String(d);
    });
    child.stderr.on("data", (d) => {
      stderr += String(d);
    });
    child.once("error", reject);
    child.once("close", (code) => {
      const firstError =
        stderr.split("\n").find((l) => l.trim() !== "" && !l.startsWith("{") && !/^episodes \d+\//.test(l)) ?? "";
      resolve({ code, stdout, stderr, firstError });
    });
  });
}
