import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { gitRevision } from "./provenance.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, stdio: ["ignore", "pipe", "pipe"] })
    .toString()
    .trim();
}

/** A throwaway repository with one commit (and a tag, which must not leak into the answer). */
function repo(): string {
  const dir = mkdtempSync(join(tmpdir(), "provenance-"));
  dirs.push(dir);
  git(dir, "init", "-q");
  writeFileSync(join(dir, "a.txt"), "one\n");
  git(dir, "add", "a.txt");
  git(dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "one");
  git(dir, "tag", "v1");
  return dir;
}

describe("gitRevision", () => {
  it("is HEAD's full sha on a clean tree, even when a tag points at it", () => {
    const dir = repo();
    expect(gitRevision(dir)).toBe(git(dir, "rev-parse", "HEAD"));
  });

  it("marks a tree with modified tracked files -dirty, but not one with only untracked files", () => {
    const dir = repo();
    const head = git(dir, "rev-parse", "HEAD");
    writeFileSync(join(dir, "new.txt"), "untracked\n");
    expect(gitRevision(dir)).toBe(head);
    writeFileSync(join(dir, "a.txt"), "two\n");
    expect(gitRevision(dir)).toBe(`${head}-dirty`);
  });

  it("is null outside a git checkout", () => {
    const dir = mkdtempSync(join(tmpdir(), "provenance-none-"));
    dirs.push(dir);
    expect(gitRevision(dir)).toBeNull();
  });
});
