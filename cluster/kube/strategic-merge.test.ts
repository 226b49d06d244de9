/**
 * Strategic merge patch as the API server applies it to built-in kinds: lists with a merge key
 * merged element by element, the `$patch`, `$setElementOrder`, `$deleteFromPrimitiveList` and
 * `$retainKeys` directives, and every other list replaced as in a JSON merge patch.
 */
import { describe, expect, it } from "vitest";
import { StrategicMergeError, strategicMerge } from "./strategic-merge.ts";

const loadgen = {
  metadata: { name: "loadgen", labels: { app: "loadgen", "chaos-rl/run": "r1" }, finalizers: ["a"] },
  spec: {
    replicas: 1,
    template: {
      spec: {
        containers: [
          {
            name: "loadgen",
            image: "chaos-rl-harness:dev",
            env: [
              { name: "RATE_RPS", value: "20" },
              { name: "LOAD_FACTOR", value: "3" },
            ],
          },
          { name: "sidecar", image: "envoy" },
        ],
        tolerations: [{ key: "a" }, { key: "b" }],
      },
    },
  },
};

describe("strategic merge patch of a Deployment", () => {
  it("merges containers by name and env by name; other fields and containers stay; null deletes a key", () => {
    const out = strategicMerge("Deployment", loadgen, {
      metadata: { labels: { "chaos-rl/run": null } },
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: "loadgen",
                env: [
                  { name: "LOAD_FACTOR", value: "1" },
                  { name: "LOAD_FACTOR_UNTIL", value: "" },
                ],
              },
            ],
          },
        },
      },
    });
    expect(out.metadata).toEqual({ name: "loadgen", labels: { app: "loadgen" }, finalizers: ["a"] });
    expect((out.spec as typeof loadgen.spec).template.spec.containers).toEqual([
      {
        name: "loadgen",
        image: "chaos-rl-harness:dev",
        env: [
          { name: "RATE_RPS", value: "20" },
          { name: "LOAD_FACTOR", value: "1" },
          { name: "LOAD_FACTOR_UNTIL", value: "" },
        ],
      },
      { name: "sidecar", image: "envoy" },
    ]);
    // The target is not modified.
    expect(loadgen.spec.template.spec.containers[0]!.env![1]!.value).toBe("3");
  });

  it("a list without a merge key (tolerations) is replaced, as in a merge patch", () => {
    const out = strategicMerge("Deployment", loadgen, {
      spec: { template: { spec: { tolerations: [{ key: "c" }] } } },
    });
    expect((out.spec as typeof loadgen.spec).template.spec.tolerations).toEqual([{ key: "c" }]);
  });

  it("$patch: delete removes one element by its key; $patch: replace replaces the list or a map", () => {
    const del = strategicMerge("Deployment", loadgen, {
      spec: { template: { spec: { containers: [{ name: "sidecar", $patch: "delete" }] } } },
    });
    expect((del.spec as typeof loadgen.spec).template.spec.containers.map((c) => c.name)).toEqual(["loadgen"]);
    const rep = strategicMerge("Deployment", loadgen, {
      spec: { template: { spec: { containers: [{ $patch: "replace" }, { name: "only", image: "x" }] } } },
    });
    expect((rep.spec as typeof loadgen.spec).template.spec.containers).toEqual([{ name: "only", image: "x" }]);
    const map = strategicMerge("Deployment", loadgen, { metadata: { labels: { $patch: "replace", fresh: "1" } } });
    expect((map.metadata as { labels: object }).labels).toEqual({ fresh: "1" });
  });

  it("$setElementOrder orders the merged list; finalizers merge as a set; $deleteFromPrimitiveList removes", () => {
    const out = strategicMerge("Deployment", loadgen, {
      metadata: { finalizers: ["a", "b"], "$deleteFromPrimitiveList/finalizers": ["a"] },
      spec: {
        template: {
          spec: { "$setElementOrder/containers": [{ name: "sidecar" }, { name: "loadgen" }], containers: [] },
        },
      },
    });
    expect((out.metadata as { finalizers: string[] }).finalizers).toEqual(["b"]);
    expect((out.spec as typeof loadgen.spec).template.spec.containers.map((c) => c.name)).toEqual([
      "sidecar",
      "loadgen",
    ]);
  });

  it("an element without its merge key, or an unknown directive, is a malformed patch", () => {
    expect(() =>
      strategicMerge("Deployment", loadgen, { spec: { template: { spec: { containers: [{ image: "x" }] } } } }),
    ).toThrow(new StrategicMergeError('map: {"image":"x"} does not contain declared merge key: name'));
    expect(() => strategicMerge("Deployment", loadgen, { metadata: { $patch: "explode" } })).toThrow(
      StrategicMergeError,
    );
    expect(() => strategicMerge("PodChaos", {}, {})).toThrow(/no strategic merge schema for kind PodChaos/);
  });
});
