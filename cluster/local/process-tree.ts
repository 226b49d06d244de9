/**
 * A process and everything it forked, read from /proc (`task/<tid>/children`). stress-ng
 * runs its load in forked workers that outlive a SIGKILLed parent until they notice it is
 * gone (a second or more; over ten seconds on a loaded machine), so a fault that kills only
 * the parent would go on loading the pod after its end was recorded.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Pids of every live descendant of `pid`, parents before children; [] once it has exited. */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number) => {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      return; // exited meanwhile
    }
    for (const tid of tids) {
      let text = "";
      try {
        text = readFileSync(`/proc/${p}/task/${tid}/children`, "utf8");
      } catch {
        continue;
      }
      for (const c of text.split(" ")) {
        const child = Number(c);
        if (child > 0) {
          out.push(child);
          visit(child);
        }
      }
    }
  };
  visit(pid);
  return out;
}

/** Sends `signal` to `pid` and to every descendant it has now (read first: a dead parent's children are reparented). */
export function killTree(pid: number, signal: NodeJS.Signals = "SIGKILL"): void {
  for (const p of [pid, ...descendants(pid)]) {
    try {
      process.kill(p, signal);
    } catch {
      // Gone already.
    }
  }
}
