/** What `harness report`, `run --report` and `compare` print on stdout: short, one line per gate. */
import type { CompareOutcome } from "./compare.ts";
import { gateMeasured } from "./document.ts";
import { formatDifference, formatP, formatValue } from "./format.ts";
import type { GateResult } from "./gate-eval.ts";
import { METRICS } from "./metrics.ts";

export function formatGates(gates: readonly GateResult[]): string {
  if (gates.length === 0) return "gates: none in the scenario";
  const passed = gates.filter((g) => g.pass).length;
  return [
    `gates: ${passed} of ${gates.length} passed`,
    ...gates.map((g) => `  ${g.pass ? "PASS" : "FAIL"}  ${g.text}    ${gateMeasured(g)}    (${g.origin})`),
  ].join("\n");
}

export function formatCompare(c: CompareOutcome): string {
  const flagged = c.changes.filter((x) => x.flag !== null);
  const lines = [
    `${c.unpaired ? "UNPAIRED compare (no common cell and seed: differences of unpaired means)" : "compare"}: baseline ${c.baselineRun} -> candidate ${c.candidateRun}${c.file === null ? "" : ` (${c.file})`}`,
    ...c.provenance.map((p) => `differs: ${p.what}: ${p.baseline} -> ${p.candidate}`),
    ...c.notes.map((n) => `note: ${n}`),
    flagged.length === 0 ? "no significant change" : `${flagged.length} significant change(s):`,
    ...flagged.map((x) => {
      const where = x.filter.fault === undefined ? "all cells" : `${x.filter.fault}/${x.filter.frequency}`;
      return `  ${x.flag === "regressed" ? "REGRESSED" : "improved "}  ${x.policy} ${METRICS[x.metric].title} [${where}]: ${formatValue(x.metric, x.baseline)} -> ${formatValue(x.metric, x.candidate)}, ${formatDifference(x.metric, x.difference)} ${formatP(x.difference.p)} (n=${x.difference.n})`;
    }),
  ];
  if (c.gates.length > 0) lines.push(formatGates(c.gates));
  return lines.join("\n");
}
