/**
 * The trace's run and episode rows as the store writes them and reports read them: the
 * contract between the store (harness/store.ts, which writes) and reports/ (which reads).
 */
export const RUN_STATUSES = ["running", "completed", "interrupted", "failed"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const EPISODE_STATUSES = ["completed", "aborted", "failed"] as const;
export type EpisodeStatus = (typeof EPISODE_STATUSES)[number];

/** What a run is, written before any of its steps (google/benchmark's `context` block). */
export interface RunContext {
  readonly runId: string;
  readonly scenarioName: string;
  readonly scenarioSha256: string;
  /** The scenario file as read. */
  readonly scenarioText: string;
  /** Hash of the expanded plan (scenario + CLI overrides): what `--resume` matches on. */
  readonly planSha256: string;
  /** "i/n" when this process runs one shard of the plan, else null. */
  readonly shard: string | null;
  readonly backend: string;
  /** HEAD's sha, `-dirty` when tracked files differed from it (harness/provenance.ts); null outside git. */
  readonly gitSha: string | null;
  readonly nodeVersion: string;
  readonly host: string;
  readonly cpus: number;
  readonly argv: readonly string[];
  /** Model file -> sha256, for every model a policy of the plan loads. */
  readonly modelChecksums: Readonly<Record<string, string>>;
  readonly seeds: readonly number[];
  readonly startedAt: Date;
}

/** A `runs` row as read back, with its episode counts. */
export interface RunRow extends Omit<RunContext, "argv" | "modelChecksums" | "seeds"> {
  readonly argv: string[];
  readonly modelChecksums: Record<string, string>;
  readonly seeds: number[];
  readonly finishedAt: Date | null;
  readonly status: RunStatus;
  /** Episodes stored for the run, any status. */
  readonly episodes: number;
  readonly completedEpisodes: number;
}

/** One of N deterministic slices of a run's plan (`--shard i/N`); a run row stores it as "i/N". */
export interface Shard {
  /** 1-based. */
  readonly index: number;
  readonly count: number;
}

/**
 * `--shard i/N` (1 <= i <= N), or the Job form `job/N`: shard `JOB_COMPLETION_INDEX + 1` of N,
 * the 0-based index Kubernetes sets in each pod of an Indexed Job (harness/k8s-job.ts), so one
 * pod template serves every shard. `env` is where to read it (the CLI passes `process.env`).
 */
export function parseShard(text: string, env: Readonly<Record<string, string | undefined>> = {}): Shard {
  const job = /^job\/(\d+)$/.exec(text.trim());
  if (job) {
    const count = Number(job[1]);
    const raw = env.JOB_COMPLETION_INDEX;
    if (raw === undefined || !/^\d+$/.test(raw)) {
      throw new Error(
        `--shard ${text} takes its index from JOB_COMPLETION_INDEX (set in each pod of a Kubernetes Indexed Job), got ${raw === undefined ? "none" : JSON.stringify(raw)}`,
      );
    }
    const index = Number(raw) + 1;
    if (!(count >= 1 && index <= count)) {
      throw new Error(`--shard ${text}: JOB_COMPLETION_INDEX ${raw} is not below the shard count ${count}`);
    }
    return { index, count };
  }
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : Number.NaN;
  const count = m ? Number(m[2]) : Number.NaN;
  if (!(index >= 1 && count >= 1 && index <= count)) {
    throw new Error(`Expected --shard as i/N with 1 <= i <= N (e.g. 2/4) or job/N, got ${JSON.stringify(text)}`);
  }
  return { index, count };
}

export function formatShard(shard: Shard | null): string | null {
  return shard === null ? null : `${shard.index}/${shard.count}`;
}

/**
 * The shards a run still lacks, from its stored list of present ones ("1/4,3/4" ->
 * ["2/4", "4/4"]); none for a whole run (`null`, which is also what a merge of every shard
 * leaves).
 */
export function missingShards(present: string | null): string[] {
  if (present === null) return [];
  const shards = present.split(",").map((s) => parseShard(s));
  const count = shards[0]?.count ?? 0;
  const have = new Set(shards.map((s) => s.index));
  return Array.from({ length: count }, (_, k) => k + 1)
    .filter((i) => !have.has(i))
    .map((i) => `${i}/${count}`);
}
