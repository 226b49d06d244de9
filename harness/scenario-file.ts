/**
 * Reads a scenario file: YAML parsed with positions, validated by the zod schema, and
 * every problem returned as data ({@link ScenarioIssue}) pointing at a line and column,
 * so that a typo in a 200-line matrix is found without bisecting the file.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { dirname, isAbsolute, resolve as resolvePath } from "node:path";
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseAllDocuments,
  parseDocument,
} from "yaml";
import { type Scenario, scenarioSchema } from "../scenarios/schema.ts";
import { parseSimParamsFile } from "../sim/params-file.ts";
import { ScenarioError, ScenarioErrorCode, type ScenarioIssue } from "./core/errors.ts";
import { scenarioErrorMap, zodIssuesToScenario } from "./scenario-issues.ts";

export type Path = readonly (string | number)[];

export interface Position {
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
}

/** A gate as written, with where it was written, for the reports to point at. */
export interface GateSource extends Position {
  readonly expr: string;
  readonly path: Path;
}

export interface LoadedScenario {
  readonly scenario: Scenario;
  readonly fileName: string;
  /** The file exactly as read; stored with each run so a run can be reproduced. */
  readonly text: string;
  /** sha256 of `text` (UTF-8), hex. */
  readonly sha256: string;
  readonly gates: readonly GateSource[];
  /** Where the node at `path` (or its nearest existing parent) starts, for errors found later. */
  locate(path: Path): Position;
}

export type ScenarioResult =
  | { readonly success: true; readonly data: LoadedScenario }
  | { readonly success: false; readonly errors: readonly ScenarioIssue[] };

/** Parses and validates scenario text. `fileName` only labels positions and messages. */
export function parseScenario(text: string, fileName: string): ScenarioResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const at = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  if (doc.errors.length > 0) {
    return {
      success: false,
      errors: doc.errors.map((e) => ({
        code: ScenarioErrorCode.YamlSyntax,
        path: [],
        // prettyErrors appends a code frame after the first line; the position says the same.
        message: `YAML: ${e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")}`,
        ...at(e.pos[0]),
      })),
    };
  }
  if (doc.contents === null) {
    return {
      success: false,
      errors: [
        {
          code: ScenarioErrorCode.InvalidType,
          path: [],
          message: "Empty file: expected a mapping with at least name, seeds and matrix",
          line: 1,
          column: 1,
        },
      ],
    };
  }

  const locate = (path: Path): Position => at(nodeAt(doc, path)?.range?.[0] ?? 0);
  if (doc.hasIn(["sim", "paramsFile"])) {
    const inlined = inlineSimParamsFile(doc, fileName);
    if (typeof inlined !== "string") {
      return {
        success: false,
        errors: [{ ...inlined, path: ["sim", "paramsFile"], ...locate(["sim", "paramsFile"]) }],
      };
    }
    return parseScenario(inlined, fileName);
  }
  const ctx = scenarioErrorMap();
  let data: unknown;
  try {
    // The alias cap stops a "billion laughs" file from expanding without bound.
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    const message = `YAML: ${(e as Error).message}`;
    return { success: false, errors: [{ code: ScenarioErrorCode.YamlSyntax, path: [], message, line: 1, column: 1 }] };
  }
  const parsed = scenarioSchema.safeParse(data, { error: ctx.error, reportInput: true });
  if (!parsed.success) {
    return {
      success: false,
      errors: zodIssuesToScenario(parsed.error.issues, ctx).map(({ atKey, ...i }) => ({
        ...i,
        ...at(nodeAt(doc, i.path, atKey)?.range?.[0] ?? 0),
      })),
    };
  }
  const scenario = parsed.data;
  return {
    success: true,
    data: {
      scenario,
      fileName,
      text,
      sha256: createHash("sha256").update(text, "utf8").digest("hex"),
      gates: scenario.gates.map((expr, i) => ({ expr, path: ["gates", i], ...locate(["gates", i]) })),
      locate,
    },
  };
}

/**
 * `sim.paramsFile` (a file of simulator parameters, as `harness calibrate` writes them),
 * read relative to the scenario file and written into the `sim:` section in its place: its
 * values replace the section's values of the same keys. The result is the text that runs,
 * and the text a run stores, so a stored run never depends on the params file again.
 * Returns that text, or the issue (without position) that stops it.
 */
function inlineSimParamsFile(
  doc: Document,
  fileName: string,
): string | { code: ScenarioIssue["code"]; message: string } {
  const ref = doc.getIn(["sim", "paramsFile"]);
  if (typeof ref !== "string" || ref === "") {
    return { code: ScenarioErrorCode.InvalidType, message: "Expected sim.paramsFile to be a file name" };
  }
  const file = isAbsolute(ref) ? ref : resolvePath(dirname(fileName), ref);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    return { code: ScenarioErrorCode.Unreadable, message: `Cannot read sim.paramsFile: ${(e as Error).message}` };
  }
  const parsed = parseSimParamsFile(text);
  if (!parsed.success) {
    return { code: ScenarioErrorCode.InvalidValue, message: `sim.paramsFile ${ref}: ${parsed.message}` };
  }
  doc.deleteIn(["sim", "paramsFile"]);
  for (const [key, value] of Object.entries(parsed.params)) doc.setIn(["sim", key], value);
  const sim = doc.get("sim", true) as Node;
  const sha = createHash("sha256").update(text, "utf8").digest("hex").slice(0, 12);
  sim.commentBefore = `${sim.commentBefore ? `${sim.commentBefore}\n` : ""} sim.paramsFile ${ref} (sha256 ${sha}…) inlined: ${Object.keys(parsed.params).join(", ")}`;
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/**
 * The largest scenario file read, bytes. The committed ones are under 10 kB; the text is
 * stored whole with every run and parsed with positions, and a 50 MB file cost 48 s and
 * 4 GB of memory before this limit.
 */
export const MAX_SCENARIO_BYTES = 1024 * 1024;

// ---------------------------------------------------------------------------
// Suites: several scenarios in one file

export type SuiteResult =
  | { readonly success: true; readonly data: readonly LoadedScenario[] }
  | { readonly success: false; readonly errors: readonly ScenarioIssue[] };

/**
 * A suite: one complete scenario per YAML document (`---` between them), e.g.
 * scenarios/generalization.yaml. Each document is validated by the scenario schema on its
 * own, with positions in the whole file; comments before the first document belong to it.
 * Each scenario's `fileName` is `<fileName>#<name>` and its `text` the document alone (what
 * a run stores). Names must be unique within the file.
 */
export function parseScenarioSuite(text: string, fileName: string): SuiteResult {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return { success: false, errors: parseScenarioNoDoc(text, fileName) };
  // Where each document's text starts: the first at 0 (its leading comments), the others at their range.
  const starts = docs.map((d, i) => (i === 0 ? 0 : d.range[0]));
  const out: LoadedScenario[] = [];
  const errors: ScenarioIssue[] = [];
  const names = new Map<string, number>();
  for (let i = 0; i < docs.length; i++) {
    const start = starts[i]!;
    const end = i + 1 < docs.length ? starts[i + 1]! : text.length;
    const body = text.slice(start, end);
    // Blank lines in place of what came before keep the positions of the whole file.
    const before = text.slice(0, start).split("\n").length - 1;
    const r = parseScenario("\n".repeat(before) + body, fileName);
    if (!r.success) {
      errors.push(...r.errors.map((e) => ({ ...e, message: `document ${i + 1}: ${e.message}` })));
      continue;
    }
    const name = r.data.scenario.name;
    const line = r.data.locate(["name"]).line;
    const first = names.get(name);
    if (first !== undefined) {
      errors.push({
        code: ScenarioErrorCode.DuplicateName,
        path: ["name"],
        message: `document ${i + 1}: Scenario "${name}" appears twice in the suite (first at line ${first})`,
        line,
        column: 1,
      });
      continue;
    }
    names.set(name, line);
    const own = parseScenario(body, `${fileName}#${name}`);
    if (own.success) out.push(own.data);
  }
  return errors.length > 0 ? { success: false, errors } : { success: true, data: out };
}

/** The errors of a file that is not a suite either (parseAllDocuments found no documents). */
function parseScenarioNoDoc(text: string, fileName: string): readonly ScenarioIssue[] {
  const r = parseScenario(text, fileName);
  return r.success ? [] : r.errors;
}

/** `file.yaml#name`: the scenario `name` of a suite file. */
const SUITE_REF = /^(.+\.ya?ml)#([^#/\\]+)$/;

/** Reads and parses a scenario file; an unreadable file is an error too, not an exception. */
export async function loadScenario(path: string): Promise<ScenarioResult> {
  const ref = SUITE_REF.exec(path);
  if (ref !== null) return loadSuiteScenario(ref[1]!, ref[2]!);
  const read = await readScenarioText(path);
  if (!read.success) return read;
  const text = read.text;
  const result = parseScenario(text, path);
  if (!result.success && result.errors.some((e) => /multiple documents/i.test(e.message))) {
    const suite = parseScenarioSuite(text, path);
    if (suite.success) {
      const names = suite.data.map((d) => d.scenario.name);
      const message = `${path} is a suite of ${names.length} scenarios (${names.join(", ")}): name one as ${path}#${names[0]}`;
      return {
        success: false,
        errors: [{ code: ScenarioErrorCode.YamlSyntax, path: [], message, line: 1, column: 1 }],
      };
    }
    return suite;
  }
  return result;
}

/** One scenario of a suite file, by name. */
async function loadSuiteScenario(file: string, name: string): Promise<ScenarioResult> {
  const read = await readScenarioText(file);
  if (!read.success) return read;
  const suite = parseScenarioSuite(read.text, file);
  if (!suite.success) return suite;
  const found = suite.data.find((d) => d.scenario.name === name);
  if (found !== undefined) return { success: true, data: found };
  const names = suite.data.map((d) => d.scenario.name).join(", ");
  const message = `No scenario named "${name}" in ${file}; it holds ${names}`;
  return { success: false, errors: [{ code: ScenarioErrorCode.InvalidValue, path: [], message, line: 1, column: 1 }] };
}

/** Reads and parses every scenario of a suite file (a single-scenario file is a suite of one). */
export async function loadScenarioSuite(path: string): Promise<SuiteResult> {
  const read = await readScenarioText(path);
  if (!read.success) return read;
  return parseScenarioSuite(read.text, path);
}

async function readScenarioText(
  path: string,
): Promise<{ success: true; text: string } | { success: false; errors: readonly ScenarioIssue[] }> {
  let text: string;
  try {
    const { size } = await stat(path);
    if (size > MAX_SCENARIO_BYTES) {
      const message = `Scenario file is ${(size / 1024 / 1024).toFixed(1)} MB; the limit is ${MAX_SCENARIO_BYTES / 1024 / 1024} MB`;
      return { success: false, errors: [{ code: ScenarioErrorCode.TooBig, path: [], message, line: 0, column: 0 }] };
    }
    text = await readFile(path, "utf8");
  } catch (e) {
    const message = `Cannot read the scenario file: ${(e as Error).message}`;
    return { success: false, errors: [{ code: ScenarioErrorCode.Unreadable, path: [], message, line: 0, column: 0 }] };
  }
  return { success: true, text };
}

/** {@link loadScenario} for callers that stop on the first bad file (the CLI: exit code 2). */
export async function loadScenarioOrThrow(path: string): Promise<LoadedScenario> {
  const r = await loadScenario(path);
  if (!r.success) throw new ScenarioError(path, r.errors);
  return r.data;
}

/**
 * The scenario run on another backend (`harness run --backend`): `backend:` set, and a
 * `local:` section dropped when the backend is not local (only the testbed reads it), then
 * parsed again, so that the run stores and hashes the text that ran and the schema's
 * cross-field checks apply to the new backend.
 */
export function withBackend(loaded: LoadedScenario, backend: Scenario["backend"]): LoadedScenario {
  if (loaded.scenario.backend === backend) return loaded;
  const doc = parseDocument(loaded.text);
  doc.set("backend", backend);
  if (backend !== "local") doc.delete("local");
  const r = parseScenario(doc.toString({ lineWidth: 0, flowCollectionPadding: false }), loaded.fileName);
  if (!r.success) throw new ScenarioError(loaded.fileName, r.errors);
  return r.data;
}

// ---------------------------------------------------------------------------
// Positions

/**
 * The YAML node a path points at, or the deepest node on the way that exists (a missing
 * key points at its parent mapping). When `key` is set the last step returns the key node
 * rather than its value (unknown keys are errors about the key itself).
 */
export function nodeAt(doc: Document, path: Path, key = false): Node | null {
  let node: unknown = doc.contents;
  let found = node as Node | null;
  for (let i = 0; i < path.length; i++) {
    if (isAlias(node)) node = node.resolve(doc);
    const seg = path[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair === undefined) break;
      const last = i === path.length - 1;
      // An empty value (`key:`) has no useful range of its own: point at the key.
      if ((last && key) || pair.value === null) return pair.key as Node;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg];
      if (item === undefined || item === null) break;
      node = item;
    } else {
      break;
    }
    found = node as Node;
  }
  return found;
}

export type { ScenarioIssue } from "./core/errors.ts";
