/**
 * The kustomize base (cluster/manifests/) checked without a cluster: every object against the
 * Kubernetes schemas of `kubernetes-models`, the ties between objects that only a running
 * cluster would otherwise reveal (selectors, ports, probes, the drain label, the load-spike
 * patch, the controller's scenario), and the controller's Role, rule by rule.
 *
 * kubernetes-models checks types, formats and required fields but, like the API server
 * without strict field validation, not unknown fields; a misspelt field is caught here only
 * where a tie below reads it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Job } from "kubernetes-models/batch/v1/Job";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { faultSpecSchema } from "../../harness/core/contract.ts";
import { parseScenario } from "../../harness/scenario-file.ts";
import { faultObject, LOAD_ENV } from "../chaos/resources.ts";

const dir = import.meta.dirname;

// biome-ignore lint/suspicious/noExplicitAny: the constructors take each kind's own shape
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  "apps/v1/Deployment": Deployment,
  "batch/v1/Job": Job,
  "rbac.authorization.k8s.io/v1/Role": Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
  "v1/ConfigMap": ConfigMap,
  "v1/Namespace": Namespace,
  "v1/PersistentVolumeClaim": PersistentVolumeClaim,
  "v1/Service": Service,
  "v1/ServiceAccount": ServiceAccount,
};

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field below
  [k: string]: any;
};

interface Kustomization {
  namespace: string;
  resources: string[];
  images: { name: string; newTag: string }[];
}

const kustomization = parse(readFileSync(join(dir, "kustomization.yaml"), "utf8")) as Kustomization;

function load(file: string): Obj[] {
  return parseAllDocuments(readFileSync(join(dir, file), "utf8")).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
    return d.toJS() as Obj;
  });
}

const objects = kustomization.resources.flatMap((f) => load(f).map((o) => ({ file: f, o })));

function find(kind: string, name: string): Obj {
  const hit = objects.find(({ o }) => o.kind === kind && o.metadata.name === name);
  if (!hit) throw new Error(`no ${kind} ${name} in cluster/manifests`);
  return hit.o;
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

describe("the kustomize base", () => {
  it("lists every manifest in the folder, and only those", () => {
    const yamls = readdirSync(dir).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
    expect([...kustomization.resources].sort()).toEqual(yamls.sort());
  });

  it("puts everything in one namespace and leaves each object's own namespace unset", () => {
    expect(find("Namespace", kustomization.namespace)).toBeDefined();
    expect(objects.filter(({ o }) => o.metadata.namespace !== undefined).map(({ o }) => o.metadata.name)).toEqual([]);
  });

  it("tags every image the objects use", () => {
    const used = new Set(
      objects.flatMap(({ o }) =>
        ((o.spec?.template?.spec?.containers ?? []) as { image: string }[]).map((c) => c.image),
      ),
    );
    expect([...used].sort()).toEqual(kustomization.images.map((i) => i.name).sort());
  });

  for (const { file, o } of objects) {
    it(`${file}: ${o.kind} ${o.metadata.name} is valid for the Kubernetes schema`, () => {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      if (!Model) throw new Error(`no kubernetes-models class for ${o.apiVersion} ${o.kind}: add it to MODELS`);
      expect(() => new Model(o).validate()).not.toThrow();
    });
  }

  it("a broken manifest is refused with the path (the check can fail)", () => {
    const d = structuredClone(find("Deployment", "demo"));
    d.spec.template.spec.containers[0].ports[0].containerPort = "8080";
    expect(() => new Deployment(d).validate()).toThrow(/spec\/template\/spec\/containers\/0\/ports\/0\/containerPort/);
    const s = structuredClone(find("Service", "demo"));
    delete s.spec.ports[0].port;
    expect(() => new Service(s).validate()).toThrow(/spec\/ports\/0.*port/);
  });

  it("every container has CPU and memory requests and limits", () => {
    for (const { o } of objects) {
      for (const c of (o.spec?.template?.spec?.containers ?? []) as { name: string; resources?: object }[]) {
        expect(c.resources, `${o.kind} ${o.metadata.name} ${c.name}`).toMatchObject({
          requests: { cpu: expect.any(String), memory: expect.any(String) },
          limits: { cpu: expect.any(String), memory: expect.any(String) },
        });
      }
    }
  });
});

describe("the demo service", () => {
  const deployment = find("Deployment", "demo");
  const service = find("Service", "demo");
  const pod = deployment.spec.template;
  const container = pod.spec.containers[0];

  it("is selected by the Service through the scenario's routing label, which the Deployment's selector does not use", () => {
    const selector = deployment.spec.selector.matchLabels as Record<string, string>;
    const r = parseScenario(find("ConfigMap", "controller").data["scenario.yaml"], "controller.yaml");
    if (!r.success) throw new Error("the controller's scenario is invalid");
    const routing = r.data.scenario.cluster!.routingLabel!;
    expect(matches(selector, pod.metadata.labels)).toBe(true);
    expect(matches(service.spec.selector, pod.metadata.labels)).toBe(true);
    expect(service.spec.selector[routing]).toBe("true");
    expect(selector[routing]).toBeUndefined();
    // A drained pod (routing label removed) leaves the Service and stays in the Deployment.
    const { [routing]: _, ...drained } = pod.metadata.labels as Record<string, string>;
    expect(matches(service.spec.selector, drained)).toBe(false);
    expect(matches(selector, drained)).toBe(true);
  });

  it("serves on the port its Service, probes and scrape annotations name", () => {
    const port = container.ports.find((p: { name: string }) => p.name === service.spec.ports[0].targetPort);
    expect(port?.containerPort).toBe(8080);
    expect(container.env).toContainEqual({ name: "PORT", value: String(port.containerPort) });
    expect(container.readinessProbe.httpGet).toEqual({ path: "/ready", port: "http" });
    expect(container.livenessProbe.httpGet).toEqual({ path: "/health", port: "http" });
    expect(pod.metadata.annotations).toEqual({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": String(port.containerPort),
      "prometheus.io/path": "/metrics",
    });
  });

  it("has the limits the hand-written chaos examples assume (cluster/chaos/cpu-stress.yaml, memory-leak.yaml)", () => {
    expect(container.resources.limits).toEqual({ cpu: "500m", memory: "256Mi" });
    const stress = parse(readFileSync(join(dir, "../chaos/cpu-stress.yaml"), "utf8"));
    const leak = parse(readFileSync(join(dir, "../chaos/memory-leak.yaml"), "utf8"));
    expect(stress.spec.stressors.cpu).toEqual({ workers: 1, load: 30 }); // 0.6 x 500m
    expect(leak.spec.stressors.memory.size).toBe("256MiB");
    expect(stress.spec.containerNames).toEqual([container.name]);
  });
});

describe("the load generator", () => {
  const deployment = find("Deployment", "loadgen");

  /** kubectl's strategic merge of a patch's containers and env (both merge by `name`). */
  function strategicMerge(d: Obj, patch: ReturnType<typeof spikeObject>["patch"]["patch"]): Obj {
    const out = structuredClone(d);
    for (const [k, v] of Object.entries(patch.metadata.labels)) {
      out.metadata.labels ??= {};
      if (v === null) delete out.metadata.labels[k];
      else out.metadata.labels[k] = v;
    }
    for (const pc of patch.spec.template.spec.containers) {
      const c = out.spec.template.spec.containers.find((x: { name: string }) => x.name === pc.name);
      if (!c) throw new Error(`the patch names container ${pc.name}, which the Deployment does not have`);
      for (const e of pc.env) {
        const i = c.env.findIndex((x: { name: string }) => x.name === e.name);
        if (i < 0) c.env.push(e);
        else c.env[i] = e;
      }
    }
    return out;
  }

  function spikeObject() {
    const o = faultObject(faultSpecSchema.parse({ type: "load-spike", factor: 3, durationS: 60 }), {
      namespace: kustomization.namespace,
      target: { labels: { app: "demo" } },
      runId: "r1",
      episode: 0,
      durationS: 600,
      name: "spike",
      nowUnixS: 1_000,
    });
    if (o.type !== "load-patch") throw new Error("expected a load patch");
    return o;
  }

  it("starts at factor 1 with no end, and the load-spike patch and its revert apply to it", () => {
    const env = deployment.spec.template.spec.containers[0].env;
    expect(env).toContainEqual({ name: LOAD_ENV.factor, value: "1" });
    expect(env).toContainEqual({ name: LOAD_ENV.until, value: "" });
    const spike = spikeObject();
    expect(spike.patch.name).toBe(deployment.metadata.name);
    const spiked = strategicMerge(deployment, spike.patch.patch);
    new Deployment(spiked).validate();
    const spikedEnv = spiked.spec.template.spec.containers[0].env;
    expect(spikedEnv).toContainEqual({ name: LOAD_ENV.factor, value: "3" });
    expect(spikedEnv).toContainEqual({ name: LOAD_ENV.until, value: "1060" });
    expect(spikedEnv).toContainEqual({ name: "TARGET_URL", value: "http://demo/api/work" });
    const reverted = strategicMerge(spiked, spike.revert.patch);
    expect(reverted).toEqual(deployment);
  });

  it("sends to the demo Service at the rate the controller's scenario expects", () => {
    const env = Object.fromEntries(
      (deployment.spec.template.spec.containers[0].env as { name: string; value: string }[]).map((e) => [
        e.name,
        e.value,
      ]),
    );
    const service = find("Service", "demo");
    expect(env.TARGET_URL).toBe(
      `http://${service.metadata.name}:${service.spec.ports[0].port}/api/work`.replace(":80/", "/"),
    );
    const scenario = parseScenario(find("ConfigMap", "controller").data["scenario.yaml"], "controller.yaml");
    if (!scenario.success) throw new Error("the controller's scenario is invalid");
    expect(scenario.data.scenario.workload.baseRps).toBe(Number(env.RATE_RPS));
  });
});

describe("the controller", () => {
  it("runs a valid cluster scenario whose only namespace is the kustomization's", () => {
    const r = parseScenario(find("ConfigMap", "controller").data["scenario.yaml"], "controller.yaml");
    if (!r.success) throw new Error(JSON.stringify(r.errors, null, 2));
    expect(r.data.scenario.backend).toBe("cluster");
    const c = r.data.scenario.cluster!;
    expect(c.allowedNamespaces).toEqual([kustomization.namespace]);
    expect(c.namespace).toBe(kustomization.namespace);
    expect(find("Deployment", c.deployment)).toBeDefined();
    expect(find("Service", c.service)).toBeDefined();
    expect(c.kubeconfig).toBeUndefined(); // in-cluster credentials: the ServiceAccount's
  });

  it("runs, once resumed, as the controller ServiceAccount with the ConfigMap's scenario and the runs volume", () => {
    const job = find("Job", "controller");
    expect(job.spec.suspend).toBe(true);
    const spec = job.spec.template.spec;
    expect(spec.serviceAccountName).toBe("controller");
    const args = spec.containers[0].args as string[];
    expect(args.slice(0, 2)).toEqual(["run", "/etc/chaos-rl/scenario.yaml"]);
    expect(args).toContain("--resume");
    expect(spec.volumes).toContainEqual({ name: "config", configMap: { name: "controller" } });
    expect(spec.volumes).toContainEqual({ name: "runs", persistentVolumeClaim: { claimName: "runs" } });
  });

  it("its Role grants exactly the calls of the Kubernetes backend, in its namespace only", () => {
    const role = find("Role", "controller");
    const grants = new Set<string>();
    for (const rule of role.rules as {
      apiGroups: string[];
      resources: string[];
      verbs: string[];
      resourceNames?: string[];
    }[]) {
      for (const g of rule.apiGroups)
        for (const r of rule.resources)
          for (const v of rule.verbs)
            for (const n of rule.resourceNames ?? ["*"]) grants.add(`${g || "core"} ${r} ${v} ${n}`);
    }
    const chaos = ["podchaos", "stresschaos", "networkchaos"].flatMap((r) =>
      ["create", "get", "list", "delete"].map((v) => `chaos-mesh.org ${r} ${v} *`),
    );
    expect([...grants].sort()).toEqual(
      [
        "core pods get *",
        "core pods list *",
        "core pods watch *",
        "core pods delete *",
        "core pods patch *",
        "core services get demo",
        "apps deployments get demo",
        "apps deployments get loadgen",
        "apps deployments patch loadgen",
        "apps deployments/scale get demo",
        "apps deployments/scale patch demo",
        ...chaos,
      ].sort(),
    );
    // Namespaced: a Role bound by a RoleBinding, never a ClusterRole.
    expect(objects.some(({ o }) => o.kind === "ClusterRole" || o.kind === "ClusterRoleBinding")).toBe(false);
    const binding = find("RoleBinding", "controller");
    expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "controller" });
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "controller" }]);
    // Every name the Role pins is an object of the base.
    for (const name of ["demo", "loadgen"]) expect(find("Deployment", name)).toBeDefined();
  });
});
