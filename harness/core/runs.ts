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
