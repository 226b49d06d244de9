/**
 * What a valid scenario still needs before it can run here: a backend whose factory this
 * build has. Refused with the file position, like any scenario error (exit 2), before a
 * database is created, instead of failing every episode with a stack.
 */
import { backends } from "./backends.ts";
import { ScenarioError, ScenarioErrorCode, type ScenarioIssue } from "./core/errors.ts";
import type { LoadedScenario } from "./scenario-file.ts";

/** Backends with a factory in harness/backends.ts (a null entry is declared but not built). */
export function availableBackends(): string[] {
  return Object.entries(backends as Record<string, unknown>)
    .filter(([, factory]) => factory !== null && factory !== undefined)
    .map(([name]) => name);
}

export function runnableIssues(loaded: LoadedScenario): ScenarioIssue[] {
  const { backend } = loaded.scenario;
  const available = availableBackends();
  if (available.includes(backend)) return [];
  return [
    {
      code: ScenarioErrorCode.InvalidValue,
      path: ["backend"],
      message: `Backend "${backend}" is not available in this build; available: ${available.join(", ")}`,
      ...loaded.locate(["backend"]),
    },
  ];
}

export function assertRunnable(loaded: LoadedScenario): void {
  const issues = runnableIssues(loaded);
  if (issues.length > 0) throw new ScenarioError(loaded.fileName, issues);
}
