/**
 * DESIGN.md's folder ownership, enforced: the contract is the only file every folder may
 * import from harness/, sim/ and cluster/ never import each other, and policies/ never
 * needs the cluster. A sideways import fails here with the file and the line.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..");
const CONTRACT = "harness/contract.ts";

/** Folder -> folders its files must not import (the contract is always allowed). */
const forbidden: Record<string, string[]> = {
  sim: ["harness", "cluster", "policies", "reports", "scenarios"],
  cluster: ["sim"],
  policies: ["cluster"],
  scenarios: ["cluster"],
};

function tsFiles(dir: string): string[] {
  // A folder with nothing tracked yet is absent from a clean clone: it imports nothing.
  if (!existsSync(join(root, dir))) return [];
  return readdirSync(join(root, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join(dir, f));
}

function imports(file: string): { line: number; target: string }[] {
  const found: { line: number; target: string }[] = [];
  readFileSync(join(root, file), "utf8")
    .split("\n")
    .forEach((text, i) => {
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
        found.push({ line: i + 1, target: relative(root, resolve(root, file, "..", m[1]!)) });
      }
    });
  return found;
}

describe("folder boundaries (DESIGN.md)", () => {
  for (const [folder, banned] of Object.entries(forbidden)) {
    it(`${folder}/ imports nothing from ${banned.join(", ")} but the contract`, () => {
      const violations = tsFiles(folder).flatMap((file) =>
        imports(file)
          .filter(({ target }) => target !== CONTRACT && banned.some((b) => target.startsWith(`${b}/`)))
          .map(({ line, target }) => `${file}:${line} imports ${target}`),
      );
      expect(violations).toEqual([]);
    });
  }
});
