/**
 * Which code produced a run: the git revision recorded in a run's context (and a training
 * run's), so that a result can be traced back to the source that made it.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The project's own checkout, whatever the process's working directory. */
const PROJECT_DIR = fileURLToPath(new URL("..", import.meta.url));

/**
 * HEAD's full sha, suffixed `-dirty` when tracked files differ from it (the convention of
 * `git describe --dirty`): a result from uncommitted code must not pass for HEAD's.
 * Untracked files do not count. Null outside a git checkout or without git.
 */
export function gitRevision(cwd: string = PROJECT_DIR): string | null {
  try {
    // --exclude=* ignores tags, so the answer is always the sha, never `v1.2-3-gabc`.
    return execFileSync("git", ["describe", "--always", "--abbrev=40", "--dirty", "--exclude=*"], {
      cwd,
      stdio: ["ignore", "pipe", "ignore"],
    })
      .toString()
      .trim();
  } catch {
    return null;
  }
}
