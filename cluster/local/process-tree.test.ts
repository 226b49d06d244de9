import { spawn } from "node:child_process";
import { describe, expect, it, onTestFinished } from "vitest";
import { processAlive } from "./leftovers.ts";
import { descendants, killTree } from "./process-tree.ts";
import { waitFor } from "./wait.ts";

describe("a process tree", () => {
  it("lists what a process forked, grandchildren included, and kills all of it", async () => {
    // A shell with two children, one of which forks again: three descendants.
    const root = spawn("/bin/sh", ["-c", "sleep 300 & (sleep 300 & wait) & wait"], { stdio: "ignore" });
    const pid = root.pid!;
    const exited = new Promise((resolve) => root.once("exit", resolve));
    let tree: number[] = [];
    // On a failed assertion too: nothing left behind.
    onTestFinished(() => {
      for (const p of [pid, ...tree]) if (processAlive(p)) process.kill(p, "SIGKILL");
    });
    await waitFor(
      () => {
        tree = descendants(pid);
        return tree.length === 3;
      },
      { timeoutMs: 30_000, what: "the shell's children and grandchildren" },
    );
    // The first sleep, the subshell and its sleep: every one a live process below the root.
    expect(new Set(tree).size).toBe(3);
    expect(tree).not.toContain(pid);
    killTree(pid);
    await exited;
    await waitFor(() => tree.every((p) => !processAlive(p)), { timeoutMs: 30_000, what: "every descendant gone" });
    expect(descendants(pid)).toEqual([]);
  });
});
