/**
 * The report's verdict: one sentence per policy against the best other policy, e.g.
 * "rl vs heuristic: no significant difference in uptime (-0.1 pp [-0.2, +0.0]) or MTTR
 * (+1.3 s [+0.1, +2.7]); costs 12% more (significant)." The best other policy is the one
 * with the highest uptime over the whole matrix (ties: the lower MTTR). A difference is
 * called only when `judge` calls it (interval excludes 0 and p < 0.05), as everywhere else.
 */

import type { PairedInterval } from "./bootstrap.ts";
import { formatDifference } from "./format.ts";
import { judge, type PolicyRow } from "./model.ts";

/** The paired differences a sentence needs, `a - b` over the pairs both ran. */
export interface VerdictPair {
  readonly uptime: PairedInterval;
  readonly mttr: PairedInterval;
  readonly cost: PairedInterval;
}

/** The best policy other than `policy`: highest uptime, then lowest MTTR, then matrix order. */
export function bestOther(rows: readonly PolicyRow[], policy: string): PolicyRow | null {
  let best: PolicyRow | null = null;
  for (const r of rows) {
    if (r.policy === policy) continue;
    if (best === null || ranksAbove(r, best)) best = r;
  }
  return best;
}

function ranksAbove(a: PolicyRow, b: PolicyRow): boolean {
  const ua = finite(a.metrics.uptime.estimate, -1);
  const ub = finite(b.metrics.uptime.estimate, -1);
  if (ua !== ub) return ua > ub;
  return finite(a.metrics.mttr.estimate, Number.POSITIVE_INFINITY) < finite(b.metrics.mttr.estimate, Infinity);
}

const finite = (x: number, fallback: number) => (Number.isFinite(x) ? x : fallback);

/** One sentence: how `a` fares against `b`. */
export function verdictSentence(a: string, b: string, d: VerdictPair, costOfB: number): string {
  const uptime = judge("uptime", d.uptime);
  const mttr = judge("mttr", d.mttr);
  const uptimeText = `uptime (${formatDifference("uptime", d.uptime)})`;
  const mttrText = Number.isFinite(d.mttr.estimate) ? `MTTR (${formatDifference("mttr", d.mttr)})` : "MTTR (no pairs)";
  const called: string[] = [];
  const uncalled: string[] = [];
  if (uptime === null) uncalled.push(uptimeText);
  else called.push(`${uptime === "a" ? "higher" : "lower"} ${uptimeText}`);
  if (mttr === null) uncalled.push(mttrText);
  else called.push(`${mttr === "a" ? "faster recovery" : "slower recovery"}: ${mttrText}`);
  const parts = [...called];
  if (uncalled.length > 0) parts.push(`no significant difference in ${uncalled.join(" or ")}`);
  return `${a} vs ${b}: ${parts.join("; ")}; ${costText(d.cost, costOfB)}.`;
}

function costText(cost: PairedInterval, costOfB: number): string {
  if (!Number.isFinite(cost.estimate) || !(costOfB > 0)) return "cost not comparable";
  const pct = (100 * cost.estimate) / costOfB;
  const significant = judge("cost", cost) !== null;
  const tag = significant ? "" : " (not significant)";
  if (Math.abs(pct) < 0.5) return `costs about the same${tag}`;
  return `costs ${Math.abs(pct).toFixed(0)}% ${pct > 0 ? "more" : "less"}${tag}`;
}
