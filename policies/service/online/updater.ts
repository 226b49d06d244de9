/**
 * Online learning, done safely, for the agent service (`POST /update`, `GET /updates`,
 * `POST /rollback`): transitions are stored durably first (store.ts); a job on a worker
 * thread fine-tunes a COPY of the served model and evaluates it against the served one
 * (job.ts); the served model is replaced, by swapping one reference between two requests,
 * only when the candidate is not worse. Every candidate, its evaluation and the decision go
 * to records.jsonl, promoted or not; the models replaced stay loaded for `/rollback`.
 *
 * One job at a time: transitions that arrive while one runs are stored and feed the next,
 * which starts when the running one ends. A job's candidate is not promoted when the served
 * model changed while it ran (a rollback): it was judged against a model no longer served.
 */
import { Worker } from "node:worker_threads";
import { loadOnnxModel, type OnnxPolicyModel } from "../../onnx-model.ts";
import type { CandidateRecord, RollbackRecord, Transition } from "../schemas.ts";
import type { FineTuneOptions } from "./finetune.ts";
import { DEFAULT_VALIDATION_SCENARIO, type EvaluationOptions, type JobInput, type JobResult } from "./job.ts";
import { type ModelRefOnDisk, OnlineStore } from "./store.ts";

export interface OnlineOptions {
  /** Folder for the transition log, the records, serving.json and candidate models. */
  readonly dir: string;
  /**
   * The worker module that runs a job (harness/agent-online-worker.mjs: it wires job.ts to
   * the loop's paired evaluation, which policies/ cannot import).
   */
  readonly jobEntry: URL;
  /** Transitions stored before the first job starts. @default 256 */
  readonly minTransitions?: number;
  /** Most transitions one job trains on (the latest ones). @default 16384 */
  readonly maxTransitions?: number;
  /** Replaced models kept loaded for `/rollback`. @default 5 */
  readonly keepPrevious?: number;
  readonly fineTune?: Partial<FineTuneOptions>;
  /** @default scenarios/rl-validation.yaml, every cell and seed, marginUptime 0.005 */
  readonly evaluation?: Partial<EvaluationOptions>;
  /** Called with each record once it is stored (tests wait on it). */
  readonly onRecord?: (r: CandidateRecord | RollbackRecord) => void;
}

export class RollbackUnavailableError extends Error {
  override readonly name = "RollbackUnavailableError";
}

interface Loaded {
  readonly model: OnnxPolicyModel;
  readonly ref: ModelRefOnDisk;
}

const refOf = (m: OnnxPolicyModel): ModelRefOnDisk => ({ sha256: m.sha256, file: m.file });

export class OnlineUpdater {
  private running: { id: number; worker: Worker; parent: string } | null = null;
  private pending = false;
  private nextId: number;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  /** Models no longer served or kept for rollback, disposed at close (a request may still hold one). */
  private readonly retired: OnnxPolicyModel[] = [];

  private constructor(
    private readonly o: Required<Pick<OnlineOptions, "minTransitions" | "maxTransitions" | "keepPrevious">> &
      OnlineOptions,
    private readonly store: OnlineStore,
    private readonly base: OnnxPolicyModel,
    private serving: Loaded,
    private previous: Loaded[],
    private readonly onSwap: (m: OnnxPolicyModel) => void,
  ) {
    this.nextId = store.nextCandidateId();
  }

  /**
   * Opens the folder; when its serving.json was written for this same base model, serves
   * what it names (a promotion survives a restart), else starts from `base`.
   */
  static async open(
    options: OnlineOptions,
    base: OnnxPolicyModel,
    onSwap: (m: OnnxPolicyModel) => void,
  ): Promise<OnlineUpdater> {
    const o = { minTransitions: 256, maxTransitions: 16_384, keepPrevious: 5, ...options };
    const store = new OnlineStore(o.dir);
    const saved = store.readServing();
    let serving: Loaded = { model: base, ref: refOf(base) };
    const previous: Loaded[] = [];
    if (saved !== null && saved.base.sha256 === base.sha256) {
      const load = async (ref: ModelRefOnDisk): Promise<Loaded> =>
        ref.sha256 === base.sha256 ? { model: base, ref } : { model: await loadOnnxModel(ref.file), ref };
      serving = await load(saved.current);
      for (const ref of saved.previous) previous.push(await load(ref));
    }
    return new OnlineUpdater(o, store, base, serving, previous, onSwap);
  }

  get current(): OnnxPolicyModel {
    return this.serving.model;
  }

  get transitionCount(): number {
    return this.store.transitionCount;
  }

  /** Stores a batch durably, then starts (or queues) a job once enough transitions are stored. */
  accept(transitions: readonly Transition[]): {
    batch: number;
    stored: number;
    total: number;
    job: { id: number; status: "started" | "queued" } | null;
  } {
    const { batch } = this.store.appendBatch(transitions);
    const total = this.store.transitionCount;
    let job: { id: number; status: "started" | "queued" } | null = null;
    if (total >= this.o.minTransitions) {
      if (this.running === null) job = { id: this.start(), status: "started" };
      else {
        this.pending = true;
        job = { id: this.nextId, status: "queued" };
      }
    }
    return { batch, stored: transitions.length, total, job };
  }

  /** Returns to the model served before the current one. */
  async rollback(): Promise<RollbackRecord> {
    const to = this.previous.shift();
    if (to === undefined) throw new RollbackUnavailableError("No previous model to roll back to");
    const from = this.serving;
    this.retired.push(from.model);
    this.serving = to;
    this.persist();
    this.onSwap(to.model);
    const record: RollbackRecord = { kind: "rollback", at: new Date().toISOString(), from: from.ref, to: to.ref };
    this.store.appendRecord(record);
    this.o.onRecord?.(record);
    return record;
  }

  status() {
    return {
      serving: this.serving.ref,
      previous: this.previous.map((p) => p.ref),
      running: this.running?.id ?? null,
      records: this.store.allRecords(),
    };
  }

  /** Resolves once no job runs and none is queued. */
  idle(): Promise<void> {
    if (this.running === null && !this.pending) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.running?.worker.terminate();
    this.running = null;
    this.store.close();
    const keep = new Set<OnnxPolicyModel>([this.base]);
    const all = new Set([this.serving.model, ...this.previous.map((p) => p.model), ...this.retired]);
    for (const m of all) if (!keep.has(m)) await m.dispose();
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private start(): number {
    const id = this.nextId++;
    this.pending = false;
    const input: JobInput = {
      id,
      servingFile: this.serving.ref.file,
      transitions: this.store.latestTransitions(this.o.maxTransitions),
      modelsDir: this.store.modelsDir,
      fineTune: this.o.fineTune,
      evaluation: { scenario: DEFAULT_VALIDATION_SCENARIO, marginUptime: 0.005, ...this.o.evaluation },
    };
    const worker = new Worker(this.o.jobEntry, { workerData: input });
    this.running = { id, worker, parent: this.serving.ref.sha256 };
    const outcome = new Promise<JobResult>((resolve, reject) => {
      worker.once("message", (m: { ok: true; result: JobResult } | { ok: false; error: string }) =>
        m.ok ? resolve(m.result) : reject(new Error(m.error)),
      );
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`fine-tuning worker exited with code ${code}`)));
    });
    outcome
      .then(
        (r) => this.finish(r),
        (err: Error) => this.finish(failed(input, this.serving.ref, err)),
      )
      .catch((err: Error) => process.stderr.write(`agent service: recording job ${id} failed: ${err.message}\n`));
    return id;
  }

  private async finish(r: JobResult): Promise<void> {
    if (this.closed) return;
    const parentSha = this.running?.parent;
    void this.running?.worker.terminate();
    this.running = null;
    let decision = r.decision;
    let reason = r.reason;
    if (decision === "promoted" && parentSha !== this.serving.ref.sha256) {
      decision = "rejected";
      reason = `the served model changed while the candidate was evaluated (a rollback); ${r.reason}`;
    }
    if (decision === "promoted" && r.candidate !== null) {
      try {
        const model = await loadOnnxModel(r.candidate.file, { requireCard: true });
        this.previous.unshift(this.serving);
        for (const dropped of this.previous.splice(this.o.keepPrevious)) this.retired.push(dropped.model);
        // The swap: one assignment between two requests; requests in flight finish on the old model.
        this.serving = { model, ref: refOf(model) };
        this.persist();
        this.onSwap(model);
      } catch (err) {
        decision = "failed";
        reason = `the candidate passed but could not be loaded: ${(err as Error).message}`;
      }
    }
    const record: CandidateRecord = { kind: "candidate", at: new Date().toISOString(), ...r, decision, reason };
    this.store.appendRecord(record);
    this.o.onRecord?.(record);
    if (this.pending && !this.closed) this.start();
    else for (const w of this.idleWaiters.splice(0)) w();
  }

  private persist(): void {
    this.store.writeServing({
      base: refOf(this.base),
      current: this.serving.ref,
      previous: this.previous.map((p) => p.ref),
    });
  }
}

function failed(input: JobInput, parent: ModelRefOnDisk, err: Error): JobResult {
  return {
    id: input.id,
    parent,
    candidate: null,
    transitions: input.transitions.length,
    fineTune: null,
    evaluation: null,
    decision: "failed",
    reason: `the fine-tuning job failed: ${err.message.split("\n")[0]}`,
  };
}
