/**
 * The errors the CLI turns into one line on stderr and a documented exit code, instead of
 * a stack trace: whatever comes from the user's input or environment. Anything else is a
 * bug, and is printed as one line too, with the stack in the debug log (HARNESS_LOG_LEVEL=debug).
 */

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

/** Invalid input from the user (a flag, a file named on the command line): exit 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  readonly exitCode = EXIT.usage;
}

/** The environment refused (a lock held, a full disk, an unwritable folder): exit 1, one line. */
export class OperationError extends Error {
  override readonly name = "OperationError";
  readonly exitCode = EXIT.failed;
}

/** The message of anything thrown, one line (DuckDB appends hints after a newline). */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split("\n")[0]!.trim();
}
