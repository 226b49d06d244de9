/**
 * The kind setup cannot run here (no container engine, no cluster); what can be checked
 * without one is: the scripts pass shellcheck and bash's parser, every file they name exists,
 * and the values files agree with each other and with the manifests and scenarios.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadScenarioOrThrow } from "../../harness/scenario-file.ts";

const dir = import.meta.dirname;
const root = join(dir, "..", "..");
const scripts = ["up.sh", "down.sh"].map((f) => join(dir, f));
const yaml = (f: string) => parse(readFileSync(join(dir, f), "utf8"));
const hasShellcheck = spawnSync("shellcheck", ["--version"]).status === 0;

// Without Debian's shellcheck a developer's run skips this; CI (which installs it) fails instead.
describe.runIf(hasShellcheck || process.env.CI)("the kind scripts", () => {
  it("are shellcheck-clean", () => {
    const r = spawnSync("shellcheck", ["--format=gcc", ...scripts], { encoding: "utf8" });
    expect(r.error).toBeUndefined();
    expect(r.stdout).toBe("");
    expect(r.status).toBe(0);
  });
});

describe("the kind setup", () => {
  it("parses as bash", () => {
    for (const s of scripts) execFileSync("bash", ["-n", s]);
  });

  it("names only files that exist", () => {
    const text = readFileSync(join(dir, "up.sh"), "utf8");
    const named = [...text.matchAll(/\$(?:ROOT|KIND_DIR)\/([\w./-]+)/g)].map((m) =>
      m[0].startsWith("$KIND_DIR") ? join("cluster/kind", m[1]!) : m[1]!,
    );
    expect(named.length).toBeGreaterThan(5);
    for (const f of named.filter((n) => !n.includes("*"))) expect(existsSync(join(root, f)), f).toBe(true);
  });

  it("exposes Prometheus and Grafana on the host ports kind maps to their NodePorts", () => {
    const ports = yaml("kind.yaml").nodes[0].extraPortMappings as { containerPort: number; hostPort: number }[];
    expect(ports).toContainEqual(
      expect.objectContaining({
        containerPort: yaml("prometheus-values.yaml").server.service.nodePort,
        hostPort: 9090,
      }),
    );
    expect(ports).toContainEqual(
      expect.objectContaining({ containerPort: yaml("grafana-values.yaml").service.nodePort, hostPort: 3000 }),
    );
  });

  it("scrapes as often as the cluster scenarios say, and exports the routing label they drain by", async () => {
    const prom = yaml("prometheus-values.yaml");
    const smoke = (await loadScenarioOrThrow(join(root, "scenarios", "kind-smoke.yaml"))).scenario.cluster!;
    expect(prom.server.global.scrape_interval).toBe(`${smoke.scrapeIntervalS}s`);
    expect(smoke.prometheusUrl).toBe("http://localhost:9090");
    expect(prom["kube-state-metrics"].metricLabelsAllowlist).toEqual([`pods=[app,${smoke.routingLabel}]`]);
  });

  it("installs Chaos Mesh for containerd, acting only in namespaces that opt in, and the project's namespace does", () => {
    const cm = yaml("chaos-mesh-values.yaml");
    expect(cm.chaosDaemon).toEqual({ runtime: "containerd", socketPath: "/run/containerd/containerd.sock" });
    expect(cm.controllerManager.enableFilterNamespace).toBe(true);
    const ns = parse(readFileSync(join(root, "cluster/manifests/namespace.yaml"), "utf8"));
    expect(ns.metadata.annotations).toEqual({ "chaos-mesh.org/inject": "enabled" });
  });

  it("points Grafana at the Prometheus the controller's scenario reads", () => {
    const ds = yaml("grafana-values.yaml").datasources["datasources.yaml"].datasources[0];
    const cm = parse(readFileSync(join(root, "cluster/manifests/controller.yaml"), "utf8").split("\n---\n")[0]!);
    expect(parse(cm.data["scenario.yaml"]).cluster.prometheusUrl).toBe(ds.url);
  });
});
