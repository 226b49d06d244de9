/**
 * The gate language of a scenario's `gates:` (and of `harness compare --gate`): parse and
 * name-check, nothing else (gate-eval.ts evaluates). A gate is one comparison of two
 * arithmetic expressions over metric references:
 *
 *   gate     := sum ("<=" | "<" | ">=" | ">" | "==" | "!=") sum
 *   sum      := product (("+" | "-") product)*        put spaces around "-": labels may hold "-"
 *   product  := unary (("*" | "/") unary)*
 *   unary    := "-" unary | NUMBER ["%"] | ref | "(" sum ")"
 *   ref      := subject "." METRIC ["[" filter "]"] ["." STAT] ["[" filter "]"]
 *   subject  := arm | "paired(" arm "," arm ")"       paired(a, b): the paired difference a - b
 *   arm      := LABEL | LABEL "(" LABEL ")"           a policy label; in compare: candidate(rl)
 *   STAT     := mean | lower | upper | n | p          default mean; lower/upper: 95% interval; p: paired only
 *   filter   := item ("," item)*;  item := LABEL | (fault | frequency) "=" LABEL
 *                                                      a bare label is a fault, a second one a frequency
 *
 * e.g. `rl.uptime >= 0.99`, `rl.mttr <= heuristic.mttr`, `paired(rl, hpa).mttr.upper < 0`,
 * `rl.uptime[pod-kill, high].lower >= 99%`, `candidate.mttr <= baseline.mttr * 1.05`.
 */
import { isMetricName, METRIC_NAMES } from "./metrics.ts";

export const STATS = ["mean", "lower", "upper", "n", "p"] as const;
export type Stat = (typeof STATS)[number];
export const COMPARISONS = ["<=", "<", ">=", ">", "==", "!="] as const;
export type Comparison = (typeof COMPARISONS)[number];

export interface ArmRef {
  /** A policy label, or `candidate` / `baseline` in a comparison of two runs. */
  readonly name: string;
  /** `candidate(rl)`: the policy inside a run; null when not given. */
  readonly policy: string | null;
  /** Offset in the gate text. */
  readonly at: number;
}

export interface Filter {
  readonly fault?: string;
  readonly frequency?: string;
}

export interface Ref {
  readonly subject:
    | { readonly kind: "arm"; readonly arm: ArmRef }
    | { readonly kind: "paired"; readonly a: ArmRef; readonly b: ArmRef };
  readonly metric: string;
  readonly stat: Stat;
  readonly filter: Filter;
  /** The reference as written, for printing. */
  readonly text: string;
  readonly at: number;
}

export type Expr =
  | { readonly kind: "num"; readonly value: number }
  | { readonly kind: "ref"; readonly ref: Ref }
  | { readonly kind: "neg"; readonly expr: Expr }
  | { readonly kind: "bin"; readonly op: "+" | "-" | "*" | "/"; readonly left: Expr; readonly right: Expr };

export interface Gate {
  readonly text: string;
  readonly left: Expr;
  readonly op: Comparison;
  readonly right: Expr;
}

/** A problem with a gate, as data: what and where (offset into the gate text). */
export interface GateIssue {
  readonly message: string;
  readonly offset: number;
}

export type GateParse =
  | { readonly success: true; readonly gate: Gate }
  | { readonly success: false; readonly issue: GateIssue };

// ---------------------------------------------------------------------------
// Tokens

type Token =
  | { kind: "num"; value: number; at: number; end: number }
  | { kind: "name"; value: string; at: number; end: number }
  | { kind: "op"; value: string; at: number; end: number }
  | { kind: "end"; at: number; end: number };

const NAME = /[A-Za-z][A-Za-z0-9_-]*/y;
const NUMBER = /(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y;
const OPS = ["<=", ">=", "==", "!=", "<", ">", "+", "-", "*", "/", "(", ")", "[", "]", ",", ".", "=", "%"];

class ParseError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i]!)) {
      i++;
      continue;
    }
    NAME.lastIndex = i;
    const name = NAME.exec(text);
    if (name !== null) {
      tokens.push({ kind: "name", value: name[0], at: i, end: i + name[0].length });
      i += name[0].length;
      continue;
    }
    NUMBER.lastIndex = i;
    const number = NUMBER.exec(text);
    if (number !== null) {
      tokens.push({ kind: "num", value: Number(number[0]), at: i, end: i + number[0].length });
      i += number[0].length;
      continue;
    }
    const op = OPS.find((o) => text.startsWith(o, i));
    if (op === undefined) throw new ParseError(`Unexpected character ${JSON.stringify(text[i])}`, i);
    tokens.push({ kind: "op", value: op, at: i, end: i + op.length });
    i += op.length;
  }
  tokens.push({ kind: "end", at: text.length, end: text.length });
  return tokens;
}

// ---------------------------------------------------------------------------
// Parser (recursive descent, one token of lookahead)

export function parseGate(text: string): GateParse {
  try {
    return { success: true, gate: new Parser(text).gate() };
  } catch (err) {
    if (err instanceof ParseError) return { success: false, issue: { message: err.message, offset: err.offset } };
    throw err;
  }
}

class Parser {
  private readonly tokens: Token[];
  private pos = 0;

  constructor(private readonly text: string) {
    this.tokens = tokenize(text);
  }

  gate(): Gate {
    const left = this.sum();
    const t = this.peek();
    if (!(t.kind === "op" && (COMPARISONS as readonly string[]).includes(t.value))) {
      throw new ParseError(
        `Expected a comparison (${COMPARISONS.join(" ")}) after ${JSON.stringify(this.text.slice(0, t.at).trim())}, got ${describe(t)}`,
        t.at,
      );
    }
    this.pos++;
    const right = this.sum();
    const end = this.peek();
    if (end.kind !== "end") {
      throw new ParseError(`Unexpected ${describe(end)} after the comparison; a gate is one comparison`, end.at);
    }
    return { text: this.text, left, op: t.value as Comparison, right };
  }

  private sum(): Expr {
    let left = this.product();
    for (;;) {
      const t = this.peek();
      if (t.kind !== "op" || (t.value !== "+" && t.value !== "-")) return left;
      this.pos++;
      left = { kind: "bin", op: t.value, left, right: this.product() };
    }
  }

  private product(): Expr {
    let left = this.unary();
    for (;;) {
      const t = this.peek();
      if (t.kind !== "op" || (t.value !== "*" && t.value !== "/")) return left;
      this.pos++;
      left = { kind: "bin", op: t.value, left, right: this.unary() };
    }
  }

  private unary(): Expr {
    const t = this.next();
    if (t.kind === "op" && t.value === "-") return { kind: "neg", expr: this.unary() };
    if (t.kind === "num") {
      if (this.isOp("%")) {
        this.pos++;
        return { kind: "num", value: t.value / 100 };
      }
      return { kind: "num", value: t.value };
    }
    if (t.kind === "op" && t.value === "(") {
      const inner = this.sum();
      this.expect(")");
      return inner;
    }
    if (t.kind === "name") return { kind: "ref", ref: this.ref(t) };
    throw new ParseError(`Expected a number, a metric reference or "(", got ${describe(t)}`, t.at);
  }

  private ref(first: Token & { kind: "name" }): Ref {
    let subject: Ref["subject"];
    if (first.value === "paired" && this.isOp("(")) {
      this.pos++;
      const a = this.arm();
      this.expect(",");
      const b = this.arm();
      this.expect(")");
      subject = { kind: "paired", a, b };
    } else {
      subject = { kind: "arm", arm: this.armAfter(first) };
    }
    if (!this.isOp(".")) {
      const t = this.peek();
      throw new ParseError(
        `Expected ".metric" after ${JSON.stringify(this.text.slice(first.at, t.at).trim())} (e.g. ${first.value}.uptime), got ${describe(t)}`,
        t.at,
      );
    }
    this.pos++;
    const metric = this.name("a metric name");
    let filter: Filter = {};
    if (this.isOp("[")) filter = this.filter();
    let stat: Stat = "mean";
    if (this.isOp(".")) {
      this.pos++;
      const s = this.name("a statistic");
      if (!(STATS as readonly string[]).includes(s.value)) {
        throw new ParseError(`Unknown statistic "${s.value}"; expected one of ${STATS.join(", ")}`, s.at);
      }
      stat = s.value as Stat;
    }
    if (this.isOp("[")) {
      if (Object.keys(filter).length > 0) throw new ParseError("A reference takes one [filter]", this.peek().at);
      filter = this.filter();
    }
    const end = this.tokens[this.pos - 1]!.end;
    return { subject, metric: metric.value, stat, filter, text: this.text.slice(first.at, end), at: first.at };
  }

  private arm(): ArmRef {
    const t = this.next();
    if (t.kind !== "name") throw new ParseError(`Expected a policy label, got ${describe(t)}`, t.at);
    return this.armAfter(t);
  }

  private armAfter(t: Token & { kind: "name" }): ArmRef {
    if (!this.isOp("(")) return { name: t.value, policy: null, at: t.at };
    this.pos++;
    const policy = this.name("a policy label");
    this.expect(")");
    return { name: t.value, policy: policy.value, at: t.at };
  }

  private filter(): Filter {
    const open = this.next();
    const out: { fault?: string; frequency?: string } = {};
    const positional: ("fault" | "frequency")[] = ["fault", "frequency"];
    let i = 0;
    for (;;) {
      const t = this.name("a fault or frequency label");
      let axis: "fault" | "frequency";
      let value: string;
      if (this.isOp("=")) {
        if (t.value !== "fault" && t.value !== "frequency") {
          throw new ParseError(`Unknown filter key "${t.value}"; expected fault or frequency`, t.at);
        }
        this.pos++;
        axis = t.value;
        value = this.name(`a ${t.value} label`).value;
      } else {
        const next = positional[i];
        if (next === undefined)
          throw new ParseError("Too many labels in [filter]: at most a fault and a frequency", t.at);
        axis = next;
        value = t.value;
      }
      i++;
      if (out[axis] !== undefined) throw new ParseError(`The ${axis} is given twice in [filter]`, t.at);
      out[axis] = value;
      if (this.isOp(",")) {
        this.pos++;
        continue;
      }
      if (this.isOp("]")) {
        this.pos++;
        return out;
      }
      throw new ParseError(`Expected "," or "]" to close the filter opened at ${open.at + 1}`, this.peek().at);
    }
  }

  private name(what: string): Token & { kind: "name" } {
    const t = this.next();
    if (t.kind !== "name") throw new ParseError(`Expected ${what}, got ${describe(t)}`, t.at);
    return t;
  }

  private expect(op: string): void {
    const t = this.next();
    if (!(t.kind === "op" && t.value === op)) throw new ParseError(`Expected "${op}", got ${describe(t)}`, t.at);
  }

  private isOp(op: string): boolean {
    const t = this.peek();
    return t.kind === "op" && t.value === op;
  }

  private peek(): Token {
    return this.tokens[this.pos]!;
  }

  private next(): Token {
    return this.tokens[this.pos++] ?? this.tokens.at(-1)!;
  }
}

function describe(t: Token): string {
  if (t.kind === "end") return "the end of the gate";
  return JSON.stringify(String(t.value));
}

// ---------------------------------------------------------------------------
// Names

/** What a gate may name: the run's axes, and whether it compares two runs. */
export interface GateNames {
  readonly mode: "report" | "compare";
  readonly policies: readonly string[];
  readonly faults: readonly string[];
  readonly frequencies: readonly string[];
}

export const RUN_ARMS = ["candidate", "baseline"] as const;

/** Every reference of a gate, left to right. */
export function refsOf(gate: Gate): Ref[] {
  const out: Ref[] = [];
  const walk = (e: Expr): void => {
    if (e.kind === "ref") out.push(e.ref);
    else if (e.kind === "neg") walk(e.expr);
    else if (e.kind === "bin") {
      walk(e.left);
      walk(e.right);
    }
  };
  walk(gate.left);
  walk(gate.right);
  return out;
}

/** Checks every name a parsed gate uses; the first problem, or null. */
export function checkGateNames(gate: Gate, names: GateNames): GateIssue | null {
  for (const ref of refsOf(gate)) {
    const arms = ref.subject.kind === "arm" ? [ref.subject.arm] : [ref.subject.a, ref.subject.b];
    for (const arm of arms) {
      const issue = checkArm(arm, names);
      if (issue !== null) return issue;
    }
    if (!isMetricName(ref.metric)) {
      const hint = METRIC_NAMES.find((m) => ref.metric.startsWith(`${m}-`))
        ? ` (put spaces around "-" to subtract: labels may contain "-")`
        : "";
      return {
        message: `Unknown metric "${ref.metric}" in ${ref.text}; expected one of ${METRIC_NAMES.join(", ")}${hint}`,
        offset: ref.at,
      };
    }
    if (ref.stat === "p" && ref.subject.kind !== "paired") {
      return { message: `${ref.text}: the p-value exists only for paired(a, b) differences`, offset: ref.at };
    }
    if (ref.filter.fault !== undefined && !names.faults.includes(ref.filter.fault)) {
      return {
        message: `Unknown fault "${ref.filter.fault}" in ${ref.text}; the matrix has ${names.faults.join(", ")}`,
        offset: ref.at,
      };
    }
    if (ref.filter.frequency !== undefined && !names.frequencies.includes(ref.filter.frequency)) {
      return {
        message: `Unknown frequency "${ref.filter.frequency}" in ${ref.text}; the matrix has ${names.frequencies.join(", ")}`,
        offset: ref.at,
      };
    }
  }
  return null;
}

function checkArm(arm: ArmRef, names: GateNames): GateIssue | null {
  const policies = names.policies.join(", ");
  if (names.mode === "report") {
    if (arm.policy !== null) {
      return {
        message: `"${arm.name}(${arm.policy})" names a run; a report has one: write ${arm.policy}`,
        offset: arm.at,
      };
    }
    if (!names.policies.includes(arm.name)) {
      return { message: `Unknown policy "${arm.name}"; the matrix has ${policies}`, offset: arm.at };
    }
    return null;
  }
  if (!(RUN_ARMS as readonly string[]).includes(arm.name)) {
    return {
      message: `Expected candidate or baseline (optionally with a policy, e.g. candidate(${names.policies[0] ?? "rl"})), got "${arm.name}"`,
      offset: arm.at,
    };
  }
  if (arm.policy !== null && !names.policies.includes(arm.policy)) {
    return { message: `Unknown policy "${arm.policy}"; both runs have ${policies}`, offset: arm.at };
  }
  return null;
}

/** Parses and name-checks in one go. */
export function compileGate(text: string, names: GateNames): GateParse {
  const parsed = parseGate(text);
  if (!parsed.success) return parsed;
  const issue = checkGateNames(parsed.gate, names);
  return issue === null ? parsed : { success: false, issue };
}
