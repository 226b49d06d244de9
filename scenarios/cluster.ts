/**
 * The scenario's `cluster:` section (backend cluster, cluster/kube/): which deployment on
 * which cluster the loop acts on, and where it may write. Here, beside the scenario schema,
 * so that the schema owns every default without importing cluster/.
 */
import { z } from "zod";

/** A Kubernetes namespace name (RFC 1123 label). */
export const namespaceSchema = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, {
  error: (iss) => `Expected a Kubernetes namespace name (RFC 1123 label), got ${JSON.stringify(iss.input)}`,
});

/** An object name (RFC 1123 subdomain), as Deployments and Services are named. */
const objectNameSchema = z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, {
  error: (iss) => `Expected a Kubernetes object name (RFC 1123 subdomain), got ${JSON.stringify(iss.input)}`,
});

/** A label key: an optional DNS prefix and a name. */
const labelKeySchema = z
  .string()
  .regex(/^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, {
    error: (iss) => `Expected a Kubernetes label key, got ${JSON.stringify(iss.input)}`,
  });

export const clusterSectionSchema = z
  .object({
    kubeconfig: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Path of the kubeconfig file. @default $KUBECONFIG, else ~/.kube/config, else the in-cluster service account",
      ),
    context: z.string().min(1).optional().describe("Context in the kubeconfig. @default its current-context"),
    namespace: namespaceSchema.describe("Namespace of the deployment under test."),
    deployment: objectNameSchema.describe("The Deployment the loop observes and acts on."),
    service: objectNameSchema.describe("The Service in front of it; a drain takes a pod out of its endpoints."),
    prometheusUrl: z
      .url()
      .describe("Prometheus base URL the collector queries (kube-state-metrics, cAdvisor, the service's metrics)."),
    allowedNamespaces: z
      .array(namespaceSchema)
      .min(1)
      .describe(
        "The only namespaces the harness may write to (delete, patch, create chaos); every other write is refused.",
      ),
    routingLabel: labelKeySchema
      .optional()
      .describe(
        "Label the Service selects on and the Deployment's selector does not: a drain removes it from one pod. @default the first such key of the Service's selector",
      ),
    scrapeIntervalS: z
      .number()
      .min(0.1)
      .max(300)
      .default(15)
      .describe("Prometheus's scrape interval, seconds (the collector's rate window follows)."),
    podCapacityRps: z
      .number()
      .positive()
      .optional()
      .describe(
        "Requests per second one pod of the deployment serves at its CPU limit (measured, e.g. by a load test). Codecs that relate load to capacity (obs-v2) need it; without it an obs-v2 policy is refused before the first step, never fed a guessed figure.",
      ),
    dryRun: z
      .boolean()
      .default(false)
      .describe(
        "Send every write with server-side dryRun=All and record what would have happened (`harness run --dry-run`).",
      ),
  })
  .strict()
  .describe(
    "The Kubernetes cluster (backend cluster): the deployment under test and the namespaces the harness may write to.",
  );
export type ClusterSectionInput = z.input<typeof clusterSectionSchema>;
export type ClusterSection = z.output<typeof clusterSectionSchema>;
