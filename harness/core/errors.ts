/**
 * Errors of scenario files as data, in the manner of zod's issues: a code from one
 * catalog, the path into the document, a message, and where in the file it points.
 * The loader produces them; the CLI prints them and exits with code 2.
 */

/** Every code a scenario error can carry. Stable: scripts may match on them. */
export const ScenarioErrorCode = {
  /** The file could not be read. */
  Unreadable: "unreadable",
  /** Not valid YAML (or more than one document, or a duplicate key). */
  YamlSyntax: "yaml_syntax",
  /** A required key is absent. */
  MissingKey: "missing_key",
  /** Unknown key: typos must not pass silently. */
  UnknownKey: "unknown_key",
  /** Wrong kind of value (a string where a number belongs, ...). */
  InvalidType: "invalid_type",
  /** Not one of the allowed values (fault type, policy name, mode, ...). */
  InvalidValue: "invalid_value",
  TooSmall: "too_small",
  TooBig: "too_big",
  InvalidFormat: "invalid_format",
  NotMultipleOf: "not_multiple_of",
  /** Two entries of one matrix axis (or two seeds) share a name. */
  DuplicateName: "duplicate_name",
  /** Two fields that exclude each other (steps and durationS), or disagree. */
  Conflict: "conflict",
  /** Any other rule of the schema. */
  Invalid: "invalid",
} as const;
export type ScenarioErrorCode = (typeof ScenarioErrorCode)[keyof typeof ScenarioErrorCode];

export interface ScenarioIssue {
  readonly code: ScenarioErrorCode;
  /** Keys and list indices from the document root, as zod reports them. */
  readonly path: readonly (string | number)[];
  readonly message: string;
  /** 1-based line of the offending node (or its nearest existing parent); 0 when the file has none. */
  readonly line: number;
  /** 1-based column, as `line`. */
  readonly column: number;
}

/** `matrix.policy[2].params`, as zod's `prettifyError` writes paths. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** One line: `✖ message → at path (file:line:column)`. */
export function formatIssue(issue: ScenarioIssue, fileName: string): string {
  const at = issue.path.length > 0 ? ` → at ${formatPath(issue.path)}` : "";
  const where = issue.line > 0 ? `${fileName}:${issue.line}:${issue.column}` : fileName;
  return `✖ ${issue.message}${at} (${where})`;
}

export function formatIssues(issues: readonly ScenarioIssue[], fileName: string): string {
  return issues.map((i) => formatIssue(i, fileName)).join("\n");
}

/** Thrown by the `...OrThrow` loader; a CLI catches it, prints `message` and exits with `exitCode`. */
export class ScenarioError extends Error {
  override readonly name = "ScenarioError";
  /** Invalid input, as documented for the CLI. */
  readonly exitCode = 2;
  constructor(
    readonly fileName: string,
    readonly issues: readonly ScenarioIssue[],
  ) {
    super(`Invalid scenario ${fileName}:\n${formatIssues(issues, fileName)}`);
  }
}
