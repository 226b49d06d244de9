/**
 * What the CLI makes of an error: one line on stderr and a documented exit code, chosen by
 * the error's code (harness/core/errors.ts, the one catalogue), never by its message text.
 * An error without a catalogue code is a bug, and is printed as one line too, with the
 * stack in the debug log (HARNESS_LOG_LEVEL=debug).
 */
import { ERROR_CODES, type ErrorCode, type ErrorKind, errorCode, HarnessError } from "./core/errors.ts";

/** The process exit codes, as the README's table lists them. */
export const EXIT = {
  ok: 0,
  /** An episode, a gate or an operation failed (a database locked by another process, a full disk). */
  failed: 1,
  /** Invalid input: a flag, a scenario file, a database that is missing or not a trace store. */
  usage: 2,
  /** Interrupted (Ctrl-C, SIGTERM): finished episodes are kept, `--resume` continues. */
  interrupted: 130,
} as const;

/** The exit code of each kind of error: typed from the kinds, so a new kind cannot be forgotten. */
const EXIT_BY_KIND: Record<ErrorKind, number> = {
  input: EXIT.usage,
  environment: EXIT.failed,
  backend: EXIT.failed,
};

/** The exit code for an error code. */
export function exitCodeFor(code: ErrorCode): number {
  return EXIT_BY_KIND[ERROR_CODES[code]];
}

/** What is printed for an error, and the exit code: by its code alone. */
export function failure(err: unknown): { code: number; message: string } {
  const code = errorCode(err);
  if (code === null) {
    return { code: EXIT.failed, message: `harness: ${oneLine(err)} (HARNESS_LOG_LEVEL=debug shows the stack)` };
  }
  // A scenario's issues are one line each; any other message is cut to its first line.
  const message = code === "scenario_invalid" ? (err as Error).message : oneLine(err);
  return { code: exitCodeFor(code), message };
}

/** Invalid input from the user (a flag, a file named on the command line): code `usage`, exit 2. */
export class UsageError extends HarnessError {
  override name = "UsageError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("usage", message, options);
  }
}

/** The environment refused (an unwritable folder): code `operation_failed`, exit 1, one line. */
export class OperationError extends HarnessError {
  override name = "OperationError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("operation_failed", message, options);
  }
}

/** The message of anything thrown, one line (DuckDB appends hints after a newline). */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split("\n")[0]!.trim();
}
