/**
 * Evaluates compiled gates (gates.ts) against an {@link Estimator}. A gate passes only when
 * every number it needs exists: an MTTR with no recovered fault, or an interval bound a
 * cell of one seed cannot have, fails the gate with the reason, rather than passing by
 * default (a CI gate that cannot be measured must not be green).
 *
 * In a comparison of two runs, an arm without a policy (`candidate.mttr`) stands for each
 * policy both runs have: the gate is checked once per policy and passes when all pass.
 */
import type { Interval } from "./bootstrap.ts";
import type { Arm, Estimator } from "./estimator.ts";
import type { ArmRef, Comparison, Expr, Gate, Ref } from "./gates.ts";
import { refsOf } from "./gates.ts";
import type { MetricName } from "./metrics.ts";

export interface GateContext {
  readonly estimator: Estimator;
  /** The data's arm for a gate's arm; `policy` is the instance's policy for arms that name none. */
  resolve(arm: ArmRef, policy: string | null): Arm;
  /** Policies an arm without a policy stands for (compare); null when every arm names one. */
  readonly policies: readonly string[] | null;
}

export interface RefValue {
  readonly text: string;
  readonly value: number | null;
  /** Episodes (or pairs) behind the value. */
  readonly n: number;
}

export interface GateOutcome {
  /** The policy this instance checks (compare, arm without a policy), else null. */
  readonly policy: string | null;
  readonly pass: boolean;
  readonly left: number | null;
  readonly right: number | null;
  readonly refs: readonly RefValue[];
  /** Why the gate could not be measured, when it could not. */
  readonly reason: string | null;
}

export interface GateResult {
  readonly text: string;
  readonly op: Comparison;
  /** Where the gate was written: `file:line:column`, or the flag. */
  readonly origin: string;
  readonly pass: boolean;
  readonly outcomes: readonly GateOutcome[];
}

export function evaluateGate(gate: Gate, origin: string, ctx: GateContext): GateResult {
  const needsPolicy = refsOf(gate).some((r) =>
    (r.subject.kind === "arm" ? [r.subject.arm] : [r.subject.a, r.subject.b]).some((a) => a.policy === null),
  );
  const instances = ctx.policies !== null && needsPolicy ? ctx.policies : [null];
  const outcomes = instances.map((policy) => evaluateOnce(gate, policy, ctx));
  return { text: gate.text, op: gate.op, origin, pass: outcomes.length > 0 && outcomes.every((o) => o.pass), outcomes };
}

function evaluateOnce(gate: Gate, policy: string | null, ctx: GateContext): GateOutcome {
  const refs: RefValue[] = [];
  const value = (e: Expr): number | null => {
    switch (e.kind) {
      case "num":
        return e.value;
      case "ref": {
        const v = refValue(e.ref, policy, ctx);
        refs.push(v);
        return v.value;
      }
      case "neg": {
        const x = value(e.expr);
        return x === null ? null : -x;
      }
      case "bin": {
        const l = value(e.left);
        const r = value(e.right);
        if (l === null || r === null) return null;
        const out = e.op === "+" ? l + r : e.op === "-" ? l - r : e.op === "*" ? l * r : l / r;
        return Number.isFinite(out) ? out : null;
      }
    }
  };
  const left = value(gate.left);
  const right = value(gate.right);
  if (left === null || right === null) {
    const missing = refs.filter((r) => r.value === null).map((r) => `${r.text} (n=${r.n})`);
    return {
      policy,
      pass: false,
      left,
      right,
      refs,
      reason: missing.length > 0 ? `no value for ${missing.join(", ")}` : "division by zero",
    };
  }
  return { policy, pass: compare(left, gate.op, right), left, right, refs, reason: null };
}

function refValue(ref: Ref, policy: string | null, ctx: GateContext): RefValue {
  const metric = ref.metric as MetricName;
  let interval: Interval;
  let p: number | null = null;
  if (ref.subject.kind === "arm") {
    interval = ctx.estimator.single(ctx.resolve(ref.subject.arm, policy), ref.filter, [metric])[metric];
  } else {
    const d = ctx.estimator.paired(ctx.resolve(ref.subject.a, policy), ctx.resolve(ref.subject.b, policy), ref.filter, [
      metric,
    ])[metric];
    interval = d;
    p = d.p;
  }
  const n = interval.n;
  let v: number | null;
  switch (ref.stat) {
    case "mean":
      v = interval.estimate;
      break;
    case "lower":
      v = interval.lower;
      break;
    case "upper":
      v = interval.upper;
      break;
    case "n":
      v = n;
      break;
    case "p":
      v = p;
      break;
  }
  const text = policy === null ? ref.text : ref.text.replace(/\b(candidate|baseline)\b(?!\()/g, `$1(${policy})`);
  return { text, value: v !== null && Number.isFinite(v) ? v : null, n };
}

function compare(l: number, op: Comparison, r: number): boolean {
  switch (op) {
    case "<=":
      return l <= r;
    case "<":
      return l < r;
    case ">=":
      return l >= r;
    case ">":
      return l > r;
    case "==":
      return l === r;
    case "!=":
      return l !== r;
  }
}
