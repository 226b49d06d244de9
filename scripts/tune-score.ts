/**
 * Scores tuning candidates (scripts/tune-baselines.ts) the way the harness scores every
 * other result, so that "the tuned baseline" means what a report would say about it:
 *
 * - the episodes run through the matrix runner (harness/runner.ts: its plan expansion,
 *   worker pool, seeded episodes, progress hooks) into DuckDB trace stores;
 * - each candidate is read back from the metric views (reports/views.ts `episode_metrics`,
 *   through reports/load.ts), and its uptime, replica-seconds, actions and MTTR are the
 *   estimator's estimates over those rows (reports/estimator.ts: ratios of sums, equal to
 *   the `cell_metrics` means); intervals and paired differences are its seeded cluster
 *   bootstrap over seeds. Nothing here recomputes a metric from steps.
 *
 * A candidate is one policy with one set of parameters, labelled `<policy>-<n>` on the
 * policy axis of the scenarios below; the same parameters are run once per seed set,
 * whichever stage asks for them again.
 *
 * Why several store files and not one: the views are computed over a whole file (their
 * stages are materialised CTEs that a `WHERE run_id = ...` does not reach through), so a
 * single file holding the full search's 78 million steps would make every scoring query walk
 * all of it, and hold all of it in memory at once. Candidates go in groups of
 * `candidatesPerStore`, one store per group and workload (one run each), each scored as
 * soon as it is written. Stores that are not kept are deleted once scored.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { FAULT_TYPES } from "../harness/core/contract.ts";
import type { EpisodeDone, RunReporter } from "../harness/runner.ts";
import { runScenario } from "../harness/runner.ts";
import { parseScenario } from "../harness/scenario-file.ts";
import { TraceStore } from "../harness/store.ts";
import type { PolicyName } from "../policies/index.ts";
import type { Interval, PairedInterval } from "../reports/bootstrap.ts";
import { type Arm, Estimator } from "../reports/estimator.ts";
import type { Filter } from "../reports/gates.ts";
import { loadEpisodeRows } from "../reports/load.ts";
import type { EpisodeRow } from "../reports/metrics.ts";
import type { ScenarioInput } from "../scenarios/schema.ts";
import type { WORKLOAD_PATTERNS } from "../sim/params.ts";

export type Params = Record<string, number | boolean>;

export interface Candidate {
  readonly name: PolicyName;
  /** The policy's parameters; any left out take the schema's default. */
  readonly params: Params;
}

export type SeedSet = "training" | "held-out";
export type Workload = (typeof WORKLOAD_PATTERNS)[number];

/** Seeds `start .. start + count - 1`. */
export interface Seeds {
  readonly count: number;
  readonly start: number;
}

/** The episodes every candidate faces: every fault cell x frequency x workload x seed. */
export interface TrainingSet {
  readonly seeds: Readonly<Record<SeedSet, Seeds>>;
  readonly workloads: readonly Workload[];
  readonly steps: number;
  readonly stepSeconds: number;
}

/** The scenario of one seed set and workload, with `policies` on its policy axis. */
export function trainingScenario(
  set: TrainingSet,
  seedSet: SeedSet,
  workload: Workload,
  policies: readonly { name: PolicyName; label: string; params: Params }[],
): ScenarioInput {
  return {
    name: `tune-${seedSet}-${workload}`,
    description: "Baseline tuning: every fault alone and all six combined, two frequencies.",
    backend: "sim",
    steps: set.steps,
    stepSeconds: set.stepSeconds,
    seeds: set.seeds[seedSet],
    workload: { pattern: workload },
    guard: { mode: "autonomous", minIntervalS: 60 },
    matrix: {
      fault: [...FAULT_TYPES, { name: "all", faults: [...FAULT_TYPES] }],
      frequency: {
        fixed300: { kind: "fixed", intervalS: 300 },
        poisson120: { kind: "poisson", meanIntervalS: 120 },
      },
      policy: policies.map((p) => ({
        name: p.name,
        label: p.label,
        params: p.params,
      })) as ScenarioInput["matrix"]["policy"],
    },
  };
}

/** A candidate's estimates over every episode of a seed set (reports/metrics.ts definitions). */
export interface Score {
  /** Mean over episodes of `episode_metrics.uptime` (share of observed time with the SLO held). */
  readonly uptime: number;
  /** Mean over episodes of `episode_metrics.replica_seconds` (desired replicas x time). */
  readonly cost: number;
  /** Mean over episodes of applied actions. */
  readonly actions: number;
  /** Pooled over every closed incident (s); NaN when none closed. */
  readonly mttr: number;
  readonly episodes: number;
}

export interface Scored {
  readonly label: string;
  readonly candidate: Candidate;
  readonly score: Score;
}

export interface ScorerOptions {
  readonly set: TrainingSet;
  /** Folder of the stores. */
  readonly dir: string;
  /** Keep every store (`--db`); otherwise each is deleted once scored. */
  readonly keep: boolean;
  /** Worker threads (the runner's `jobs`). @default the core count */
  readonly jobs?: number;
  /** Candidates per store file (see the header). @default 32 */
  readonly candidatesPerStore?: number;
  /** Bootstrap resamples for intervals. @default 2000 */
  readonly resamples?: number;
  /** Progress lines (stderr). */
  readonly log: (message: string) => void;
  /** @default 5000 */
  readonly progressIntervalMs?: number;
  /** Stops dispatching (Ctrl-C): episodes in flight finish, then scoring throws. */
  readonly signal?: AbortSignal;
  /** Stops now (a second Ctrl-C). */
  readonly stop?: AbortSignal;
}

const SCORED_METRICS = ["uptime", "cost", "actions", "mttr"] as const;

export class Scorer {
  private readonly labels = new Map<string, string>();
  private readonly candidates = new Map<string, Candidate>();
  /** Episode rows by `seedSet|label`: runId set to the seed set, frequency prefixed by the workload. */
  private readonly rows = new Map<string, EpisodeRow[]>();
  private readonly scores = new Map<string, Score>();
  private stores = 0;
  private episodesRun = 0;

  constructor(private readonly o: ScorerOptions) {}

  /** The candidate's label on the policy axis: `<policy>-<n>`, the same for the same parameters. */
  labelOf(c: Candidate): string {
    const key = candidateKey(c);
    let label = this.labels.get(key);
    if (label === undefined) {
      label = `${c.name}-${String(this.labels.size + 1).padStart(4, "0")}`;
      this.labels.set(key, label);
      this.candidates.set(label, c);
    }
    return label;
  }

  /** Runs the candidates not yet run on this seed set (deduplicated), then returns every one's score in order. */
  async score(title: string, seedSet: SeedSet, candidates: readonly Candidate[]): Promise<Score[]> {
    const missing = [...new Set(candidates.map((c) => this.labelOf(c)))].filter(
      (l) => !this.rows.has(`${seedSet}|${l}`),
    );
    if (missing.length > 0) await this.run(title, seedSet, missing);
    return candidates.map((c) => this.scoreOf(seedSet, this.labelOf(c)));
  }

  /** The estimator over the named candidates' episodes of one seed set (arms: {@link arm}). */
  estimator(seedSet: SeedSet, candidates: readonly Candidate[]): Estimator {
    const rows = [...new Set(candidates.map((c) => this.labelOf(c)))].flatMap((l) => this.rowsOf(seedSet, l));
    return new Estimator(rows, { resamples: this.o.resamples ?? 2000 });
  }

  arm(seedSet: SeedSet, c: Candidate): Arm {
    return { runId: seedSet, policy: this.labelOf(c) };
  }

  /** Interval of each metric for one candidate (filter: a fault cell, or all). */
  single<M extends (typeof SCORED_METRICS)[number]>(
    seedSet: SeedSet,
    c: Candidate,
    metrics: readonly M[],
    filter: Filter = {},
  ): Record<M, Interval> {
    return this.estimator(seedSet, [c]).single(this.arm(seedSet, c), filter, metrics);
  }

  /** `a - b` of each metric, paired by cell, workload and seed. */
  paired<M extends (typeof SCORED_METRICS)[number]>(
    seedSet: SeedSet,
    a: Candidate,
    b: Candidate,
    metrics: readonly M[],
  ): Record<M, PairedInterval> {
    return this.estimator(seedSet, [a, b]).paired(this.arm(seedSet, a), this.arm(seedSet, b), {}, metrics);
  }

  /** Every candidate scored on a seed set, in label order. */
  scoredOn(seedSet: SeedSet): Scored[] {
    return [...this.candidates]
      .filter(([label]) => this.rows.has(`${seedSet}|${label}`))
      .map(([label, candidate]) => ({ label, candidate, score: this.scoreOf(seedSet, label) }));
  }

  get totals(): { candidates: number; episodes: number; stores: number } {
    return { candidates: this.rows.size, episodes: this.episodesRun, stores: this.stores };
  }

  private rowsOf(seedSet: SeedSet, label: string): EpisodeRow[] {
    const rows = this.rows.get(`${seedSet}|${label}`);
    if (rows === undefined) throw new Error(`${label} has not run on the ${seedSet} seeds`);
    return rows;
  }

  /** The score of a candidate that has run on the seed set (throws if it has not). */
  scoreOn(seedSet: SeedSet, c: Candidate): Score {
    return this.scoreOf(seedSet, this.labelOf(c));
  }

  private scoreOf(seedSet: SeedSet, label: string): Score {
    const key = `${seedSet}|${label}`;
    let score = this.scores.get(key);
    if (score === undefined) {
      this.rowsOf(seedSet, label);
      const s = this.single(seedSet, this.candidates.get(label)!, SCORED_METRICS);
      score = {
        uptime: s.uptime.estimate,
        cost: s.cost.estimate,
        actions: s.actions.estimate,
        mttr: s.mttr.estimate,
        episodes: s.uptime.n,
      };
      this.scores.set(key, score);
    }
    return score;
  }

  private async run(title: string, seedSet: SeedSet, labels: readonly string[]): Promise<void> {
    const { set } = this.o;
    const per = this.o.candidatesPerStore ?? 32;
    const groups: string[][] = [];
    for (let i = 0; i < labels.length; i += per) groups.push(labels.slice(i, i + per));
    const perCandidate = (FAULT_TYPES.length + 1) * 2 * set.workloads.length * set.seeds[seedSet].count;
    const progress = new Progress(title, labels.length * perCandidate, this.o.log, this.o.progressIntervalMs ?? 5000);
    this.o.log(
      `${title}: ${labels.length} candidates x ${perCandidate} episodes (${seedSet} seeds) in ${groups.length} store(s)`,
    );
    for (const group of groups) {
      const n = String(++this.stores).padStart(3, "0");
      for (const workload of set.workloads) {
        // One store per workload too: a query over a store's views computes them for all of it.
        const path = join(this.o.dir, `${n}-${seedSet}-${workload}.duckdb`);
        const policies = group.map((label) => ({ ...this.candidates.get(label)!, label }));
        const fileName = `tune-${seedSet}-${workload}.yaml`;
        const parsed = parseScenario(stringify(trainingScenario(set, seedSet, workload, policies)), fileName);
        if (!parsed.success) throw new Error(`${fileName}: ${parsed.errors.map((e) => e.message).join("; ")}`);
        let failure: string | null = null;
        const failures: RunReporter = {
          onEpisodeEnd: ({ episode, outcome }: EpisodeDone) => {
            if (outcome.status !== "completed") failure ??= `${episode.key}: ${outcome.status}: ${outcome.error}`;
          },
        };
        const summary = await runScenario({
          loaded: parsed.data,
          db: path,
          ...(this.o.jobs === undefined ? {} : { jobs: this.o.jobs }),
          reporters: [progress, failures],
          argv: ["tune", seedSet, workload],
          ...(this.o.signal ? { signal: this.o.signal } : {}),
          ...(this.o.stop ? { stop: this.o.stop } : {}),
        });
        if (summary.interrupted) throw new Error(`Tuning interrupted (${path} holds what finished)`);
        if (failure !== null) throw new Error(`An episode did not complete: ${failure}`);
        this.episodesRun += summary.completed;
        await this.read(path, seedSet, workload, summary.runId);
        if (!this.o.keep) {
          rmSync(path, { force: true });
          rmSync(`${path}.wal`, { force: true });
        }
      }
    }
  }

  /** The run's stored episodes, by candidate, from the views. */
  private async read(path: string, seedSet: SeedSet, workload: Workload, runId: string): Promise<void> {
    const store = await TraceStore.open(path);
    try {
      for (const row of await loadEpisodeRows(store, runId)) {
        const key = `${seedSet}|${row.policy}`;
        const rows = this.rows.get(key) ?? [];
        this.rows.set(key, rows);
        // One arm per candidate and seed set across workloads: the workload joins the
        // frequency label, so pairs still match on cell, workload and seed.
        rows.push({ ...row, runId: seedSet, frequency: `${workload}/${row.frequency}` });
      }
    } finally {
      await store.close();
    }
  }
}

/** The same key for the same candidate, whatever the order of its parameters. */
function candidateKey(c: Candidate): string {
  return `${c.name}|${JSON.stringify(Object.entries(c.params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
}

/** A progress line at most every `intervalMs` over every store of one scoring call (stderr). */
class Progress implements RunReporter {
  private done = 0;
  private firstAt = 0;
  private lastAt = 0;

  constructor(
    private readonly title: string,
    private readonly total: number,
    private readonly log: (message: string) => void,
    private readonly intervalMs: number,
  ) {}

  onEpisodeEnd(): void {
    const now = performance.now();
    this.done++;
    if (this.done === 1) {
      this.firstAt = now;
      this.lastAt = now;
    }
    if (now - this.lastAt < this.intervalMs && this.done < this.total) return;
    this.lastAt = now;
    // The rate from the first finished episode on: before it, the clock holds thread start-up.
    const perS = this.done > 1 ? (this.done - 1) / ((now - this.firstAt) / 1000) : 0;
    const eta = perS > 0 && this.done < this.total ? `, ETA ${Math.ceil((this.total - this.done) / perS)} s` : "";
    const pct = ((100 * this.done) / this.total).toFixed(1);
    this.log(`  ${this.title}: ${this.done}/${this.total} episodes (${pct}%), ${perS.toFixed(0)} episodes/s${eta}`);
  }
}
