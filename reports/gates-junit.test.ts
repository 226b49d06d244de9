import { describe, expect, it } from "vitest";
import type { GateResult } from "./gate-eval.ts";
import { gateCase, renderJunit } from "./gates-junit.ts";

const gate = (pass: boolean, text = "heuristic.uptime >= 0.99"): GateResult => ({
  text,
  op: ">=",
  origin: "scenarios/x.yaml:12:5",
  pass,
  outcomes: [
    {
      policy: null,
      pass,
      left: 0.95,
      right: 0.99,
      refs: [{ text: "heuristic.uptime", value: 0.95, n: 20 }],
      reason: null,
    },
  ],
});

describe("JUnit XML of gates", () => {
  it("a failed gate is a <failure> with the measured values; each case names its file and line", () => {
    const xml = renderJunit([{ name: "x gates", cases: [gateCase(gate(true), "x"), gateCase(gate(false), "x")] }]);
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="harness" tests="2" failures="1"/);
    expect(xml).toContain(
      '<testcase name="heuristic.uptime &gt;= 0.99" classname="x.gates" file="scenarios/x.yaml" line="12">',
    );
    expect(xml).toContain(
      '<failure message="heuristic.uptime &gt;= 0.99: 0.95 &gt;= 0.99 is false (heuristic.uptime = 0.95, n=20)" type="gate">',
    );
    expect(xml.match(/<failure /g)).toHaveLength(1);
  });

  it("skipped cases are skipped, not passed; markup and control characters cannot break the XML", () => {
    const xml = renderJunit([
      {
        name: 'a "suite" <1>',
        cases: [{ name: "a & b\u0001", classname: "c", skipped: "not checked" }],
      },
    ]);
    expect(xml).toContain('skipped="1"');
    expect(xml).toContain('<testsuite name="a &quot;suite&quot; &lt;1&gt;"');
    expect(xml).toContain('<testcase name="a &amp; b" classname="c">');
    expect(xml).toContain('<skipped message="not checked"/>');
  });
});
