/**
 * Test support for cleanup.test.ts ("kill -9 mid-drain"): a harness process reduced to what
 * matters, the unchanged `KubeBackend` opening on the API server the kubeconfig names,
 * observing once and draining the pod the ranking picks. It prints the outcome as one JSON
 * line and then waits to be killed, so the test can SIGKILL it with the drain in place.
 *
 *   node --import tsx cluster/kube/drain-child.ts <kubeconfig> <prometheusUrl> <runId> <namespace>
 */
import { readFileSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";
import { Action } from "../../harness/core/contract.ts";
import { clusterSectionSchema } from "../../scenarios/cluster.ts";
import { KubeBackend } from "./backend.ts";

const [kubeconfig, prometheusUrl, runId, namespace] = process.argv.slice(2) as [string, string, string, string];
const kc = new KubeConfig();
kc.loadFromString(readFileSync(kubeconfig, "utf8"));
const backend = await KubeBackend.open({
  cluster: clusterSectionSchema.parse({
    namespace,
    deployment: "demo",
    service: "demo",
    prometheusUrl,
    allowedNamespaces: [namespace],
  }),
  kubeConfig: kc,
  stepSeconds: 1,
  episodeSeconds: 60,
  runId,
  episode: 2,
});
await backend.observe();
const out = await backend.execute(Action.DrainPod);
process.stdout.write(`${JSON.stringify(out)}\n`);
// Mid-episode: the drain stays until the episode's end, which never comes.
setInterval(() => {}, 60_000);
