/**
 * Pause by ConfigMap annotation: on a cluster, an operator pauses the controller with
 *
 *   kubectl -n chaos-rl annotate configmap controller chaos-rl.io/paused=true --overwrite
 *
 * and resumes it with `=false` (or by removing the annotation). This watches that one
 * ConfigMap through the API server (list, then watch from the list's resourceVersion) and
 * keeps `paused` current. A failed list or a broken watch is retried with a capped
 * exponential back-off, each time from a fresh list (one small object), so a change made
 * while the watch was down is seen on reconnect.
 *
 * Until the first list succeeds the state is unknown, and unknown counts as paused: a
 * controller that cannot tell whether its operator paused it does not act. After that, a
 * lost connection keeps the last state seen (the annotation did not change because the
 * API server went away).
 */
import { CoreV1Api, type KubeConfig, type V1ConfigMap, Watch } from "@kubernetes/client-node";

export const PAUSE_ANNOTATION = "chaos-rl.io/paused";

export interface PauseWatchOptions {
  readonly namespace: string;
  /** The ConfigMap's name. */
  readonly name: string;
  /** @default PAUSE_ANNOTATION */
  readonly annotation?: string;
  /** @default 250 */
  readonly initialBackoffMs?: number;
  /** @default 10000 */
  readonly maxBackoffMs?: number;
  /** Every change of `paused`, with the reason in words. */
  readonly onChange?: (paused: boolean, why: string) => void;
  /** Lists, watch failures and reconnects, for the audit trail. */
  readonly onEvent?: (kind: "listed" | "watch-failed", detail: string) => void;
}

export class ConfigMapPauseWatch {
  /** True while paused, or while the ConfigMap has not been read yet. */
  paused = true;
  /** False until the first list succeeded. */
  known = false;
  /** Watch connections opened (1 after start; more after reconnects). */
  watches = 0;
  private readonly core: CoreV1Api;
  private readonly watch: Watch;
  private readonly annotation: string;
  private failures = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private abort: AbortController | null = null;

  constructor(
    kc: KubeConfig,
    private readonly o: PauseWatchOptions,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.watch = new Watch(kc);
    this.annotation = o.annotation ?? PAUSE_ANNOTATION;
  }

  /** Where the annotation lives, for messages. */
  get where(): string {
    return `ConfigMap ${this.o.namespace}/${this.o.name} annotation ${this.annotation}`;
  }

  /** Starts listing and watching; never throws (failures are retried and reported). */
  start(): void {
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort?.abort();
  }

  private set(cm: V1ConfigMap | null): void {
    const value = cm?.metadata?.annotations?.[this.annotation];
    const paused = value === "true";
    const why =
      cm === null ? `${this.where}: no such ConfigMap` : `${this.where}=${value === undefined ? "(unset)" : value}`;
    const changed = !this.known || paused !== this.paused;
    this.known = true;
    this.paused = paused;
    if (changed) this.o.onChange?.(paused, why);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const fieldSelector = `metadata.name=${this.o.name}`;
    let resourceVersion: string | undefined;
    try {
      const list = await this.core.listNamespacedConfigMap({ namespace: this.o.namespace, fieldSelector });
      // The field selector is the API server's to honour; the name is checked here as well.
      this.set(list.items.find((c) => c.metadata?.name === this.o.name) ?? null);
      resourceVersion = list.metadata?.resourceVersion;
      this.o.onEvent?.("listed", `${this.where} at resourceVersion ${resourceVersion ?? "?"}`);
    } catch (err) {
      this.retry(err);
      return;
    }
    if (this.stopped) return;
    try {
      this.watches++;
      this.abort = await this.watch.watch(
        `/api/v1/namespaces/${this.o.namespace}/configmaps`,
        { fieldSelector, ...(resourceVersion ? { resourceVersion } : {}) },
        (type: string, obj: V1ConfigMap) => {
          if (obj?.metadata?.name !== this.o.name) return;
          this.failures = 0;
          if (type === "DELETED") this.set(null);
          else if (type === "ADDED" || type === "MODIFIED") this.set(obj);
        },
        (err: unknown) => {
          // A watch the server ended in the ordinary way (its timeout) is no failure.
          if (!err) this.failures = 0;
          this.retry(err ?? new Error("the watch ended"));
        },
      );
    } catch (err) {
      this.retry(err);
    }
  }

  private retry(err: unknown): void {
    if (this.stopped) return;
    this.failures++;
    const delay = Math.min(this.o.maxBackoffMs ?? 10_000, (this.o.initialBackoffMs ?? 250) * 2 ** (this.failures - 1));
    const msg = err instanceof Error ? err.message.split("\n")[0] : String(err);
    this.o.onEvent?.("watch-failed", `${this.where}: ${msg}; listing again in ${delay} ms`);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.connect(), delay);
  }
}
