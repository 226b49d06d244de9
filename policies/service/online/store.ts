/**
 * What online learning keeps, in one folder, as append-only JSON-lines files:
 *
 *   transitions.jsonl   one line per accepted `/update` batch: { batch, at, transitions }
 *   records.jsonl       one line per candidate (its evaluation and the decision) or rollback
 *   serving.json        the model being served and what `/rollback` returns to
 *   models/             every candidate's ONNX file and card
 *
 * Crash safety: an append is one write followed by fsync before the caller answers, so an
 * acknowledged batch survives a crash. A crash mid-write leaves at most a torn last line;
 * opening the log cuts the file back to its last complete line, so the log is always a
 * prefix of whole batches. serving.json is replaced by rename (atomic on POSIX).
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import type { CandidateRecord, RollbackRecord, Transition } from "../schemas.ts";

export interface ModelRefOnDisk {
  readonly sha256: string;
  readonly file: string;
}

export interface ServingState {
  /** The model `agent serve` was started with: serving.json applies only to it. */
  readonly base: ModelRefOnDisk;
  readonly current: ModelRefOnDisk;
  /** Newest first. */
  readonly previous: readonly ModelRefOnDisk[];
}

/** An append-only JSON-lines file, cut back to its last complete line when opened. */
class JsonLines<T> {
  private readonly fd: number;
  readonly rows: T[] = [];

  constructor(readonly path: string) {
    this.fd = openSync(path, "a+");
    const size = fstatSync(this.fd).size;
    const buf = Buffer.alloc(size);
    if (size > 0) readSync(this.fd, buf, 0, size, 0);
    const text = buf.toString("utf8");
    const end = text.lastIndexOf("\n") + 1;
    if (end < size) {
      // A torn last line from a crash mid-append: never acknowledged, so dropped.
      ftruncateSync(this.fd, Buffer.byteLength(text.slice(0, end)));
      fsyncSync(this.fd);
    }
    for (const line of text.slice(0, end).split("\n")) if (line !== "") this.rows.push(JSON.parse(line) as T);
  }

  append(row: T): void {
    writeSync(this.fd, `${JSON.stringify(row)}\n`);
    fsyncSync(this.fd);
    this.rows.push(row);
  }

  close(): void {
    closeSync(this.fd);
  }
}

export interface TransitionBatch {
  readonly batch: number;
  readonly at: string;
  readonly transitions: readonly Transition[];
}

export type OnlineRecord = CandidateRecord | RollbackRecord;

export class OnlineStore {
  readonly modelsDir: string;
  private readonly batches: JsonLines<TransitionBatch>;
  private readonly records: JsonLines<OnlineRecord>;
  private readonly servingPath: string;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.modelsDir = join(dir, "models");
    mkdirSync(this.modelsDir, { recursive: true });
    this.batches = new JsonLines(join(dir, "transitions.jsonl"));
    this.records = new JsonLines(join(dir, "records.jsonl"));
    this.servingPath = join(dir, "serving.json");
  }

  /** Stores a batch durably (fsync) and returns its sequence number. */
  appendBatch(transitions: readonly Transition[]): TransitionBatch {
    const last = this.batches.rows.at(-1);
    const row = { batch: (last?.batch ?? 0) + 1, at: new Date().toISOString(), transitions };
    this.batches.append(row);
    return row;
  }

  get transitionCount(): number {
    let n = 0;
    for (const b of this.batches.rows) n += b.transitions.length;
    return n;
  }

  /** The last `max` transitions stored, in order. */
  latestTransitions(max: number): Transition[] {
    const out: Transition[] = [];
    for (let i = this.batches.rows.length - 1; i >= 0 && out.length < max; i--) {
      const t = this.batches.rows[i]!.transitions;
      for (let j = t.length - 1; j >= 0 && out.length < max; j--) out.push(t[j]!);
    }
    return out.reverse();
  }

  appendRecord(r: OnlineRecord): void {
    this.records.append(r);
  }

  allRecords(): readonly OnlineRecord[] {
    return this.records.rows;
  }

  /** The next candidate id. */
  nextCandidateId(): number {
    let max = 0;
    for (const r of this.records.rows) if (r.kind === "candidate" && r.id > max) max = r.id;
    return max + 1;
  }

  readServing(): ServingState | null {
    if (!existsSync(this.servingPath)) return null;
    return JSON.parse(readFileSync(this.servingPath, "utf8")) as ServingState;
  }

  writeServing(s: ServingState): void {
    const tmp = `${this.servingPath}.tmp`;
    const fd = openSync(tmp, "w");
    writeSync(fd, `${JSON.stringify(s, null, 2)}\n`);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.servingPath);
  }

  close(): void {
    this.batches.close();
    this.records.close();
  }
}
