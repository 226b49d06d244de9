/**
 * Gates as a JUnit XML report (`--junit FILE` on run, report and compare), the format CI
 * test reporters read (GitHub, GitLab, Jenkins): one test case per gate, named by its
 * expression, with where it was written (file and line) and what was measured; a failed
 * gate is a `<failure>`. Cases the command did not check (gates of `run` without
 * `--report`) are `<skipped>`, never passes.
 */
import { gateMeasured } from "./document.ts";
import type { GateResult } from "./gate-eval.ts";

export interface JunitCase {
  readonly name: string;
  readonly classname: string;
  /** Where the case was written, when it is a file position. */
  readonly file?: string;
  readonly line?: number;
  /** What was measured, shown by reporters beside the verdict. */
  readonly output?: string;
  readonly failure?: { readonly message: string; readonly detail: string };
  readonly skipped?: string;
}

export interface JunitSuite {
  readonly name: string;
  readonly cases: readonly JunitCase[];
  readonly timestamp?: Date;
}

/** A gate as a test case; `suite` names its classname (the scenario, or `compare`). */
export function gateCase(g: GateResult, suite: string): JunitCase {
  const where = /^(.*):(\d+):(\d+)$/.exec(g.origin);
  const measured = gateMeasured(g);
  return {
    name: g.text,
    classname: `${suite}.gates`,
    ...(where === null ? {} : { file: where[1], line: Number(where[2]) }),
    output: `${g.text}\nmeasured: ${measured}\nwhere: ${g.origin}`,
    ...(g.pass
      ? {}
      : {
          failure: {
            message: `${g.text}: ${measured}`,
            detail: `gate ${g.text}\nmeasured: ${measured}\nwritten at ${g.origin}`,
          },
        }),
  };
}

export function renderJunit(suites: readonly JunitSuite[]): string {
  const count = (f: (c: JunitCase) => boolean) => suites.reduce((n, s) => n + s.cases.filter(f).length, 0);
  const tests = count(() => true);
  const failures = count((c) => c.failure !== undefined);
  const skipped = count((c) => c.skipped !== undefined);
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="harness" tests="${tests}" failures="${failures}" errors="0" skipped="${skipped}">`,
  ];
  for (const s of suites) {
    const f = s.cases.filter((c) => c.failure !== undefined).length;
    const sk = s.cases.filter((c) => c.skipped !== undefined).length;
    const ts = s.timestamp === undefined ? "" : ` timestamp="${s.timestamp.toISOString().replace(/\.\d+Z$/, "")}"`;
    lines.push(
      `  <testsuite name="${attr(s.name)}" tests="${s.cases.length}" failures="${f}" errors="0" skipped="${sk}"${ts}>`,
    );
    for (const c of s.cases) {
      const at = `${c.file === undefined ? "" : ` file="${attr(c.file)}"`}${c.line === undefined ? "" : ` line="${c.line}"`}`;
      lines.push(`    <testcase name="${attr(c.name)}" classname="${attr(c.classname)}"${at}>`);
      if (c.failure !== undefined) {
        lines.push(
          `      <failure message="${attr(c.failure.message)}" type="gate">${text(c.failure.detail)}</failure>`,
        );
      }
      if (c.skipped !== undefined) lines.push(`      <skipped message="${attr(c.skipped)}"/>`);
      if (c.output !== undefined) lines.push(`      <system-out>${text(c.output)}</system-out>`);
      lines.push("    </testcase>");
    }
    lines.push("  </testsuite>");
  }
  lines.push("</testsuites>");
  return `${lines.join("\n")}\n`;
}

// XML 1.0 allows neither these control characters nor unescaped markup in text.
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping the characters XML forbids is the point
const FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g;

function text(s: string): string {
  return s.replace(FORBIDDEN, "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function attr(s: string): string {
  return text(s).replace(/"/g, "&quot;").replace(/\n/g, "&#10;");
}
