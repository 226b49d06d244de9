/**
 * What a CI system reads besides the exit code: the Markdown summary appended to
 * `$GITHUB_STEP_SUMMARY` (GitHub Actions shows it on the run's page) and JUnit XML
 * (`--junit FILE`), which test reporters show case by case.
 */
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type JunitSuite, renderJunit } from "../reports/gates-junit.ts";

/** GitHub refuses a step summary over 1 MiB; a longer one is cut with a note. */
const SUMMARY_LIMIT = 1024 * 1024 - 1024;

/** Appends `markdown` to $GITHUB_STEP_SUMMARY when it is set; returns the file, or null. */
export function appendStepSummary(markdown: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const file = env.GITHUB_STEP_SUMMARY;
  if (file === undefined || file === "") return null;
  const body =
    Buffer.byteLength(markdown) <= SUMMARY_LIMIT
      ? markdown
      : `${Buffer.from(markdown).subarray(0, SUMMARY_LIMIT).toString("utf8")}\n\n> (cut at GitHub's 1 MiB step summary limit; the whole report is in the artifact)\n`;
  appendFileSync(file, `${body.endsWith("\n") ? body : `${body}\n`}\n`);
  return file;
}

export function writeJunit(file: string, suites: readonly JunitSuite[]): string {
  const path = resolve(file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, renderJunit(suites));
  return path;
}
