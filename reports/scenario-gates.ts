/**
 * A scenario's `gates:` compiled against its own matrix, before anything runs: a gate that
 * does not parse, or names a policy, metric, fault or frequency the matrix does not have, is
 * an input error pointing at its line and column (harness/core/errors.ts, exit code 2).
 */

import { ScenarioError, ScenarioErrorCode, type ScenarioIssue } from "../harness/core/errors.ts";
import type { LoadedScenario } from "../harness/scenario-file.ts";
import { compileGate, type Gate, type GateNames } from "./gates.ts";

export interface CompiledGate {
  readonly gate: Gate;
  /** `file:line:column`. */
  readonly origin: string;
}

/** The gate names of a scenario's matrix, for a report of one run. */
export function scenarioGateNames(loaded: LoadedScenario): GateNames {
  const m = loaded.scenario.matrix;
  return {
    mode: "report",
    policies: m.policy.map((p) => p.label),
    faults: m.fault.map((f) => f.label),
    frequencies: m.frequency.map((f) => f.label),
  };
}

/** Compiles every gate of the scenario, or throws a {@link ScenarioError} listing each bad one. */
export function compileScenarioGates(loaded: LoadedScenario): CompiledGate[] {
  const names = scenarioGateNames(loaded);
  const lines = loaded.text.split("\n");
  const issues: ScenarioIssue[] = [];
  const gates: CompiledGate[] = [];
  for (const source of loaded.gates) {
    // The node starts at its quote when the gate is quoted; offsets count from the text.
    const quote = /["']/.test(lines[source.line - 1]?.[source.column - 1] ?? "") ? 1 : 0;
    const r = compileGate(source.expr, names);
    if (r.success) {
      gates.push({ gate: r.gate, origin: `${loaded.fileName}:${source.line}:${source.column}` });
    } else {
      issues.push({
        code: ScenarioErrorCode.Invalid,
        path: source.path,
        message: `Gate ${JSON.stringify(source.expr)}: ${r.issue.message}`,
        line: source.line,
        column: source.column + quote + r.issue.offset,
      });
    }
  }
  if (issues.length > 0) throw new ScenarioError(loaded.fileName, issues);
  return gates;
}
