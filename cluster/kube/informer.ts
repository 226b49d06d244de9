/**
 * The deployment's pods as the API server has them, kept current by list + watch (an
 * informer): client-node's `ListWatch` lists, then watches from the list's resourceVersion,
 * follows every event's resourceVersion, and lists again when the server says the version
 * is gone (410 Expired, in a watch ERROR event or as the watch's HTTP status). What it does
 * not do is come back after a failure (a refused connection, a reset stream, a 5xx): it
 * reports the error and stops. This class adds that: a capped exponential back-off, then
 * the watch again from the last resourceVersion (and a list if that has expired meanwhile).
 *
 * The list goes through `KubeCalls` (retries, audit); the watch stream is client-node's
 * `Watch`, whose reconnects are counted and reported through `onEvent`.
 */
import { ListWatch, type V1Pod, Watch } from "@kubernetes/client-node";
import type { KubeClient } from "./client.ts";
import { toKubeError } from "./errors.ts";

export interface PodInformerOptions {
  readonly namespace: string;
  /** The Deployment's selector (`app=demo`): drained pods still match it. */
  readonly labelSelector: string;
  /** First back-off after a failed list or watch, ms; doubled per failure in a row. @default 250 */
  readonly initialBackoffMs?: number;
  /** @default 10000 */
  readonly maxBackoffMs?: number;
  /** Lists, reconnects and failures, for the audit trail. */
  readonly onEvent?: (kind: "listed" | "watch-failed" | "reconnecting", detail: string) => void;
}

export class PodInformer {
  private readonly lw: ListWatch<V1Pod>;
  private failures = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private firstError: unknown = null;
  /** Lists done (1 after start; more after 410s). */
  lists = 0;
  /** Watch failures that were followed by a back-off and a new watch. */
  reconnects = 0;

  constructor(
    client: KubeClient,
    private readonly o: PodInformerOptions,
  ) {
    const path = `/api/v1/namespaces/${o.namespace}/pods`;
    this.lw = new ListWatch<V1Pod>(
      path,
      new Watch(client.config),
      async () => {
        const list = await client.listPods(o.namespace, o.labelSelector);
        this.lists++;
        this.failures = 0;
        o.onEvent?.("listed", `${list.items.length} pods at resourceVersion ${list.metadata?.resourceVersion ?? "?"}`);
        return list;
      },
      false,
      o.labelSelector,
    );
    this.lw.on("error", (err) => this.failed(err));
    // A watch event means the stream works: the next failure starts the back-off afresh.
    const ok = () => {
      this.failures = 0;
    };
    this.lw.on("add", ok);
    this.lw.on("update", ok);
    this.lw.on("delete", ok);
  }

  /** Lists and starts watching; throws when the first list fails (after KubeCalls' retries). */
  async start(): Promise<void> {
    await this.lw.start();
    if (this.lists === 0) {
      const err = this.firstError;
      await this.stop();
      throw toKubeError(err ?? new Error("pod list failed"), `LIST pods in ${this.o.namespace}`);
    }
  }

  /** The pods now, in no particular order. */
  pods(): readonly V1Pod[] {
    return this.lw.list(this.o.namespace);
  }

  /** The resourceVersion the watch continues from. */
  get resourceVersion(): string {
    return this.lw.latestResourceVersion();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.lw.stop();
  }

  private failed(err: unknown): void {
    if (this.lists === 0) this.firstError ??= err;
    if (this.stopped || this.lists === 0) return;
    this.failures++;
    const base = this.o.initialBackoffMs ?? 250;
    const max = this.o.maxBackoffMs ?? 10_000;
    const delay = Math.min(max, base * 2 ** (this.failures - 1));
    const msg = err instanceof Error ? err.message.split("\n")[0] : String(err);
    this.o.onEvent?.("watch-failed", `${msg}; watching again in ${delay} ms`);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      this.reconnects++;
      this.o.onEvent?.("reconnecting", `from resourceVersion ${this.resourceVersion || "(list)"}`);
      void this.lw.start();
    }, delay);
  }
}
