/**
 * `harness chaos cleanup [--run ID]`: finds what the harness left on a cluster, by label,
 * and removes it. A harness killed mid-episode leaves its chaos objects behind (each with a
 * `duration`, so Chaos Mesh has ended the fault by then, but the objects stay), and a
 * load-spike leaves the load generator's Deployment patched (its own end time has passed,
 * but the env stays), and a drain leaves its pod out of the Service's endpoints for good
 * (drain.ts: the routing label removed, the pod marked with the run). This deletes every
 * Chaos Mesh object of the run (or of every run) in the allowed namespaces, reverts every
 * load generator carrying a run label, and puts the routing label back on every pod the run
 * drained (from the pod's own drain record), removing the marks.
 */
import { CHAOS_API_GROUP, CHAOS_PLURALS, loadSpikeRevert, runSelector } from "../chaos/resources.ts";
import { CHAOS_VERSION, runLabel } from "./backend.ts";
import type { KubeClient } from "./client.ts";
import { drainedSelector, undrainPod } from "./drain.ts";

export interface CleanupReport {
  /**
   * `podchaos ns/name`, `deployment ns/name (load generator reverted)`,
   * `pod ns/name (drain undone: label k=v restored)`.
   */
  readonly removed: string[];
  /** What could not be removed, with why. */
  readonly failed: string[];
}

export async function cleanupChaos(
  client: KubeClient,
  o: { readonly namespaces: readonly string[]; readonly runId?: string },
): Promise<CleanupReport> {
  const run = o.runId === undefined ? undefined : runLabel(o.runId);
  const selector = runSelector(run);
  const removed: string[] = [];
  const failed: string[] = [];
  for (const namespace of o.namespaces) {
    for (const plural of Object.values(CHAOS_PLURALS)) {
      const kind = { group: CHAOS_API_GROUP, version: CHAOS_VERSION, plural };
      for (const obj of await client.listCustom(kind, namespace, selector)) {
        const name = obj.metadata?.name ?? "";
        try {
          await client.deleteCustom(kind, namespace, name);
          removed.push(`${plural} ${namespace}/${name}`);
        } catch (err) {
          failed.push(`${plural} ${namespace}/${name}: ${(err as Error).message}`);
        }
      }
    }
    for (const dep of await client.listDeployments(namespace, selector)) {
      const name = dep.metadata?.name ?? "";
      const container = dep.spec?.template?.spec?.containers?.[0]?.name ?? "loadgen";
      try {
        const revert = loadSpikeRevert({ namespace, loadGenerator: { deployment: name, container } });
        await client.patchDeployment(namespace, name, revert.patch);
        removed.push(`deployment ${namespace}/${name} (load generator reverted)`);
      } catch (err) {
        failed.push(`deployment ${namespace}/${name}: ${(err as Error).message}`);
      }
    }
    for (const pod of (await client.listPods(namespace, drainedSelector(run))).items) {
      const name = pod.metadata?.name ?? "";
      try {
        const r = await undrainPod(client, namespace, name, { pod });
        if (r !== "gone") removed.push(`pod ${namespace}/${name} (drain undone: label ${r.label}=${r.value} restored)`);
      } catch (err) {
        failed.push(`pod ${namespace}/${name} left drained: ${(err as Error).message}`);
      }
    }
  }
  return { removed, failed };
}
