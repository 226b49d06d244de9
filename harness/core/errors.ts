/**
 * The one error catalogue: every code an error of the harness carries, with whose fault it
 * is (its kind), in the manner of fastify's errors.js. Errors are data: `code` is stable,
 * scripts and the CLI act on it, and `message` is for people. The CLI maps a code's kind to
 * its exit code (harness/cli-errors.ts) and never reads message text; an error whose code
 * is not listed here is a bug in the harness and is reported as one.
 *
 * Scenario files' problems are zod-style issues inside one `scenario_invalid` error: each
 * issue carries a code of its own ({@link ScenarioErrorCode}), the path into the document,
 * a message, and where in the file it points.
 */

/**
 * Whose fault an error is: the user's input (exit 2), the environment refusing (a lock, a
 * full disk; exit 1), a backend call (transient or terminal; exit 1 when it ends a command).
 */
export type ErrorKind = "input" | "environment" | "backend";

/** Every error code, with its kind. Stable: add codes, never rename one. */
export const ERROR_CODES = {
  /** A flag, an argument or a combination of them (exit 2). */
  usage: "input",
  /** A scenario file that does not validate; its issues say where (exit 2). */
  scenario_invalid: "input",
  /** What a report was asked for is not in the store (no such run, policy). */
  report_input: "input",
  /** Shard stores that cannot be merged (cut differently, another plan). */
  merge_refused: "input",
  /** A file a command would write exists, and no --overwrite. */
  output_exists: "input",
  /** A trace store file that is no trace store (text, truncated, another schema version, a directory). */
  store_unreadable: "input",
  /** Invalid PPO options (a file or flags). */
  ppo_options_invalid: "input",
  /** A Chaos Mesh object the builders cannot make valid (a bad name, a missing limit). */
  ChaosSpecInvalid: "input",
  // Models refused by the loader (policies/onnx-model.ts `ModelErrorCode`).
  ModelNotFound: "input",
  ModelUnreadable: "input",
  CardInvalid: "input",
  CodecMismatch: "input",
  ChecksumMismatch: "input",
  CardMismatch: "input",
  InputMismatch: "input",
  OutputsUnrecognised: "input",
  CardMissing: "input",
  /** A Grafana dashboard file that is not JSON or not a dashboard (cluster/grafana/model.ts). */
  dashboard_invalid: "input",
  /** A policy or model names a state codec nobody registered (harness/core/codecs.ts). */
  CodecUnknown: "input",
  /** A recording a replay or a fixture reads lacks what it needs (a fault, a load, a run, an episode). */
  recording_incomplete: "input",
  /** The controller's state file is not JSON or not a controller state. */
  controller_state_invalid: "input",
  /** The store's file is locked by another process. */
  store_locked: "environment",
  /** The disk is full (episodes committed before are kept). */
  disk_full: "environment",
  /** The environment refused something else (an unwritable folder). */
  operation_failed: "environment",
  /** The local testbed would not start or stop cleanly (one already up, processes left behind). */
  testbed_failed: "environment",
  /** Faults that could not be cleared at an episode's end: named in the message. */
  faults_not_cleared: "backend",
  // Prometheus (cluster/prometheus/errors.ts `PrometheusErrorCode`).
  prometheus_not_installed: "backend",
  prometheus_port_in_use: "backend",
  prometheus_start_failed: "backend",
  prometheus_unavailable: "backend",
  prometheus_bad_query: "backend",
  prometheus_bad_response: "backend",
  // The Kubernetes API (cluster/kube/errors.ts `KubeErrorCode`).
  NamespaceNotAllowed: "backend",
  KubeStatus: "backend",
  KubeUnreachable: "backend",
  KubeConfig: "backend",
} as const satisfies Record<string, ErrorKind>;
export type ErrorCode = keyof typeof ERROR_CODES;

/** An error of the harness: a code from {@link ERROR_CODES} and a message for people. */
export class HarnessError extends Error {
  override name = "HarnessError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The catalogue code `err` carries, or null (a bug, a system error such as ENOENT, a non-error). */
export function errorCode(err: unknown): ErrorCode | null {
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === "string" && Object.hasOwn(ERROR_CODES, code) ? (code as ErrorCode) : null;
}

/** Every code a scenario file's issue can carry. Stable: scripts may match on them. */
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

/** Thrown by the `...OrThrow` loader: code `scenario_invalid`, with every issue. */
export class ScenarioError extends HarnessError {
  override name = "ScenarioError";
  constructor(
    readonly fileName: string,
    readonly issues: readonly ScenarioIssue[],
  ) {
    super("scenario_invalid", `Invalid scenario ${fileName}:\n${formatIssues(issues, fileName)}`);
  }
}
