/**
 * The CLI's log on stderr: pino JSON lines for machines (CI, `2> log.jsonl`), or one human
 * line per record on a terminal (`10:51:02 INFO  run started  runId=… jobs=2`), chosen by
 * `--log-format`, else HARNESS_LOG_FORMAT, else whether stderr is a TTY. Stacks are logged
 * at debug level only (HARNESS_LOG_LEVEL=debug); the user sees one line per error.
 */
import { type Logger, pino } from "pino";

export const LOG_FORMATS = ["auto", "json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const LEVELS: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
/** pino's own fields, not shown as key=value in a human line. */
const HIDDEN = new Set(["level", "time", "pid", "hostname", "name", "msg"]);

export interface LogOptions {
  readonly format?: LogFormat;
  readonly level?: string;
  readonly stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

export function createLogger(o: LogOptions = {}): Logger {
  const stream = o.stream ?? process.stderr;
  const asked = o.format ?? (process.env.HARNESS_LOG_FORMAT as LogFormat | undefined) ?? "auto";
  const pretty = asked === "pretty" || (asked === "auto" && stream.isTTY === true);
  const level = o.level ?? process.env.HARNESS_LOG_LEVEL ?? "info";
  if (!pretty) return pino({ name: "harness", level }, stream === process.stderr ? pino.destination(2) : stream);
  const tty = stream.isTTY === true;
  return pino(
    { name: "harness", level },
    {
      write(json: string) {
        // Clear a progress bar's line first, so the record does not land in the middle of it.
        stream.write(`${tty ? "\r\x1b[2K" : ""}${humanLine(JSON.parse(json) as Record<string, unknown>)}\n`);
      },
    },
  );
}

/** One pino record as `HH:MM:SS LEVEL message  key=value ...`. */
export function humanLine(record: Record<string, unknown>): string {
  const time = new Date(Number(record.time)).toISOString().slice(11, 19);
  const level = (LEVELS[Number(record.level)] ?? String(record.level)).padEnd(5);
  const fields = Object.entries(record)
    .filter(([k, v]) => !HIDDEN.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${fieldText(k, v)}`);
  return [`${time} ${level} ${String(record.msg ?? "")}`, ...fields].join("  ");
}

function fieldText(key: string, v: unknown): string {
  if (key === "err" && typeof v === "object" && v !== null) return JSON.stringify((v as { message?: unknown }).message);
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(1);
  if (typeof v === "string") return /\s/.test(v) || v === "" ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}
