/**
 * Drains that survive the harness. A drain takes a pod out of its Service by removing the
 * routing label; the backend puts the label back at the end of the episode, but a harness
 * killed with SIGKILL mid-episode cannot, and the pod would stay out of rotation for good
 * (still a replica, never replaced). So the patch that removes the label also marks the pod,
 * in the same request: labels with the run and the episode (`harness chaos cleanup` selects
 * on them) and an annotation recording which label was removed and its value, so that the
 * cleanup can restore it without the scenario or the Service.
 *
 * Both patches are merge patches carrying the pod's `resourceVersion`: a pod changed since it
 * was read is not patched (409), it is read again and the patch rebuilt from what it is now;
 * a pod replaced meanwhile (another uid) or deleted is left alone (`gone`).
 */
import type { V1Pod } from "@kubernetes/client-node";
import { z } from "zod";
import type { KubeClient } from "./client.ts";
import { KubeApiError, KubeErrorCode } from "./errors.ts";

/** Labels a drained pod carries while drained: `harness chaos cleanup` finds it by them. */
export const DRAIN_LABELS = {
  /** The run id (as a label value, backend.ts `runLabel`). */
  run: "chaos-rl/drained-run",
  /** The episode number within the run. */
  episode: "chaos-rl/drained-episode",
} as const;

/** Annotation holding `{"label": <routing label>, "value": <its value>}`: what to restore. */
export const DRAIN_ANNOTATION = "chaos-rl/drained";

const drainRecordSchema = z.object({ label: z.string().min(1), value: z.string() }).strict();
export type DrainRecord = z.infer<typeof drainRecordSchema>;

/** Tries of one drain or undrain against a pod that keeps changing under it. @default 5 */
const TRIES = 5;

/** The record on a drained pod, or null when it has none (or not a valid one). */
export function drainRecordOf(pod: V1Pod): DrainRecord | null {
  const text = pod.metadata?.annotations?.[DRAIN_ANNOTATION];
  if (text === undefined) return null;
  try {
    const r = drainRecordSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** Label selector of the pods a run drained (every run's when `runLabel` is undefined). */
export function drainedSelector(runLabel?: string): string {
  return runLabel === undefined ? DRAIN_LABELS.run : `${DRAIN_LABELS.run}=${runLabel}`;
}

export type DrainResult =
  | { readonly result: "drained"; readonly value: string }
  | { readonly result: "already" }
  | { readonly result: "gone" };

/**
 * Removes `label` from the pod with `uid` and marks it with the run and episode, in one patch.
 * `pod` is the pod as last seen (the informer's); on a 409 it is read again.
 */
export async function drainPod(
  client: KubeClient,
  namespace: string,
  pod: V1Pod,
  o: { readonly uid: string; readonly label: string; readonly runLabel: string; readonly episode: number },
): Promise<DrainResult> {
  const name = pod.metadata?.name ?? "";
  let cur: V1Pod | null = pod;
  for (let i = 0; i < TRIES; i++) {
    if (cur === null || cur.metadata?.uid !== o.uid || cur.metadata?.deletionTimestamp) return { result: "gone" };
    const labels = cur.metadata?.labels ?? {};
    const value = labels[o.label];
    if (value === undefined) {
      // Drained by this very episode: an earlier try of this drain whose answer came late
      // (the loop retries an execute after its timeout). Done, with what it recorded.
      const mine = labels[DRAIN_LABELS.run] === o.runLabel && labels[DRAIN_LABELS.episode] === String(o.episode);
      const record = mine ? drainRecordOf(cur) : null;
      return record !== null && record.label === o.label
        ? { result: "drained", value: record.value }
        : { result: "already" };
    }
    const record: DrainRecord = { label: o.label, value };
    const r = await client.patchPodMetadata(
      namespace,
      name,
      {
        resourceVersion: cur.metadata?.resourceVersion ?? "",
        labels: { [o.label]: null, [DRAIN_LABELS.run]: o.runLabel, [DRAIN_LABELS.episode]: String(o.episode) },
        annotations: { [DRAIN_ANNOTATION]: JSON.stringify(record) },
      },
      `drain: remove label ${o.label}, mark run ${o.runLabel} episode ${o.episode}`,
    );
    if (r === "gone") return { result: "gone" };
    if (r !== "conflict") return { result: "drained", value };
    cur = await client.getPod(namespace, name);
  }
  throw changing(namespace, name);
}

/**
 * Puts the routing label back on a drained pod and removes the marks. What to restore comes
 * from the pod's annotation, else from `fallback` (a drain the backend itself recorded).
 * `uid`, when given, is the pod the drain was done to: another pod of the same name is left
 * alone. Returns what was restored, or `gone`.
 */
export async function undrainPod(
  client: KubeClient,
  namespace: string,
  name: string,
  o: { readonly uid?: string; readonly fallback?: DrainRecord; readonly pod?: V1Pod } = {},
): Promise<DrainRecord | "gone"> {
  let cur: V1Pod | null = o.pod ?? (await client.getPod(namespace, name));
  for (let i = 0; i < TRIES; i++) {
    if (cur === null || (o.uid !== undefined && cur.metadata?.uid !== o.uid)) return "gone";
    const record = drainRecordOf(cur) ?? o.fallback;
    if (record === undefined) {
      throw new KubeApiError(
        KubeErrorCode.Config,
        false,
        `pod ${namespace}/${name} is marked drained but has no valid ${DRAIN_ANNOTATION} annotation saying which label to restore`,
        0,
        "NoDrainRecord",
        null,
      );
    }
    const r = await client.patchPodMetadata(
      namespace,
      name,
      {
        resourceVersion: cur.metadata?.resourceVersion ?? "",
        labels: { [record.label]: record.value, [DRAIN_LABELS.run]: null, [DRAIN_LABELS.episode]: null },
        annotations: { [DRAIN_ANNOTATION]: null },
      },
      `undrain: label ${record.label}=${record.value}, marks removed`,
    );
    if (r === "gone") return "gone";
    if (r !== "conflict") return record;
    cur = await client.getPod(namespace, name);
  }
  throw changing(namespace, name);
}

function changing(namespace: string, name: string): KubeApiError {
  return new KubeApiError(
    KubeErrorCode.Status,
    true,
    `pod ${namespace}/${name} changed under ${TRIES} patches in a row (409 Conflict each time)`,
    409,
    "Conflict",
    null,
  );
}
