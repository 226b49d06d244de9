/**
 * DESIGN.md's folder ownership as floors of one house, enforced by import direction:
 *
 *   floor 0  harness/core/      the contract and what every backend shares (contract,
 *                               seeded streams, fault schedule, guard, errors, run rows)
 *   floor 1  sim/
 *   floor 2  policies/          (PPO trains on the simulator)
 *   floor 3  scenarios/ and harness/scenario-file.ts, harness/scenario-issues.ts
 *                               (the scenario schema names policies and sim parameters)
 *   floor 4  cluster/, reports/ (the local testbed reads a scenario's `local:` section;
 *                               reports read a run's scenario for its gates)
 *   floor 5  harness/           the loop, runner, store, CLI: everything else of harness/
 *
 * A file imports files of its own room and of lower floors only: never up, never
 * sideways into another room of its floor, and never between sim/ and cluster/.
 * harness/core/ imports nothing of the project (its tests included).
 * A test (`*.test.ts`) or a test-support module (`test/`, `*test-helpers.ts`,
 * `*-fixtures.ts`, `*-test-*.ts`) may also import upward, since a test drives its module
 * through the stack (a report test writes a real store); it still keeps the sideways rules,
 * and no other file imports a test-support module. A violation fails with file and line.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..");

interface Room {
  readonly name: string;
  readonly floor: number;
  readonly holds: (file: string) => boolean;
}

const SCENARIO_LOADING = new Set(["harness/scenario-file.ts", "harness/scenario-issues.ts"]);

/** First match wins. */
const ROOMS: readonly Room[] = [
  { name: "harness/core", floor: 0, holds: (f) => f.startsWith("harness/core/") },
  { name: "sim", floor: 1, holds: (f) => f.startsWith("sim/") },
  { name: "policies", floor: 2, holds: (f) => f.startsWith("policies/") },
  { name: "scenarios", floor: 3, holds: (f) => f.startsWith("scenarios/") || SCENARIO_LOADING.has(f) },
  { name: "cluster", floor: 4, holds: (f) => f.startsWith("cluster/") },
  { name: "reports", floor: 4, holds: (f) => f.startsWith("reports/") },
  { name: "harness", floor: 5, holds: (f) => f.startsWith("harness/") },
];

/** Rooms that never import each other, whatever their floors (DESIGN.md). */
const SIDEWAYS: readonly (readonly [string, string])[] = [["cluster", "sim"]];

function roomOf(file: string): Room | undefined {
  return ROOMS.find((r) => r.holds(file));
}

const isTestSupport = (f: string) =>
  /\.test\.ts$|(^|\/)test\/|test-helpers\.ts$|-fixtures\.ts$|-test-[^/]*\.ts$/.test(f);

function tsFiles(dir: string): string[] {
  // A folder with nothing tracked yet is absent from a clean clone: it imports nothing.
  if (!existsSync(join(root, dir))) return [];
  return readdirSync(join(root, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts") && !f.split("/").includes("node_modules"))
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

/** Why `file` may not import `target`, or null when it may. */
function violation(file: string, target: string): string | null {
  const from = roomOf(file);
  const to = roomOf(target);
  if (from === undefined || to === undefined || from === to) return null;
  if (SIDEWAYS.some(([a, b]) => (from.name === a && to.name === b) || (from.name === b && to.name === a))) {
    return `${from.name}/ and ${to.name}/ never import each other`;
  }
  if (from.floor === 0) return "harness/core/ imports nothing of the project";
  if (to.floor === from.floor) return `sideways: ${from.name} and ${to.name} share floor ${from.floor}`;
  if (to.floor > from.floor && !isTestSupport(file)) {
    return `up: ${from.name} (floor ${from.floor}) imports ${to.name} (floor ${to.floor})`;
  }
  return null;
}

const FILES = ["harness", "sim", "policies", "scenarios", "cluster", "reports"].flatMap(tsFiles);

describe("floors by import direction (DESIGN.md)", () => {
  it("every file of the project folders is in a room", () => {
    expect(FILES.filter((f) => roomOf(f) === undefined)).toEqual([]);
  });

  for (const room of ROOMS) {
    it(`${room.name} (floor ${room.floor}) imports only down, never sideways`, () => {
      const found = FILES.filter((f) => roomOf(f) === room).flatMap((file) =>
        imports(file).flatMap(({ line, target }) => {
          const why = violation(file, target);
          return why === null ? [] : [`${file}:${line} imports ${target}: ${why}`];
        }),
      );
      expect(found).toEqual([]);
    });
  }

  it("no file but a test imports a test-support module", () => {
    const found = FILES.filter((f) => !isTestSupport(f)).flatMap((file) =>
      imports(file)
        .filter(({ target }) => isTestSupport(target))
        .map(({ line, target }) => `${file}:${line} imports ${target}`),
    );
    expect(found).toEqual([]);
  });
});

describe("the rules themselves", () => {
  it("refuse an import up, sideways, between sim and cluster, and out of the core", () => {
    expect(violation("sim/env.ts", "harness/loop.ts")).toMatch(/^up:/);
    expect(violation("reports/load.ts", "cluster/local/backend.ts")).toMatch(/^sideways:/);
    expect(violation("cluster/local/backend.ts", "sim/env.ts")).toMatch(/never import each other/);
    expect(violation("harness/core/contract.ts", "sim/env.ts")).toMatch(/imports nothing/);
    expect(violation("harness/core/guard.test.ts", "harness/loop.ts")).toMatch(/imports nothing/);
  });

  it("allow an import down, within a room, and a test's import up", () => {
    expect(violation("harness/loop.ts", "sim/backend.ts")).toBeNull();
    expect(violation("sim/env.ts", "harness/core/contract.ts")).toBeNull();
    expect(violation("reports/views.test.ts", "harness/store.ts")).toBeNull();
    expect(violation("harness/scenario-file.ts", "scenarios/schema.ts")).toBeNull();
  });
});
