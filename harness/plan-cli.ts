/**
 * `harness plan <scenario>`: what a run of the scenario would compute, without running it: the
 * episode count, and how `--shards N` would deal them. With `--k8s-job FILE` it writes the
 * matrix as a Kubernetes Indexed Job of N shards plus its merge step (harness/k8s-job.ts).
 */
import { writeFileSync } from "node:fs";
import type { Argv, CommandModule } from "yargs";
import { defaultJobName, k8sJobYaml } from "./k8s-job.ts";
import { expandPlan, shardOf } from "./plan.ts";
import { loadScenarioOrThrow } from "./scenario-file.ts";

interface PlanArgs {
  scenario: string;
  shards: number;
  "k8s-job"?: string;
  name?: string;
  namespace: string;
  image: string;
  parallelism?: number;
  "jobs-per-pod": number;
  pvc: string;
}

export const planCommand: CommandModule<object, PlanArgs> = {
  command: "plan <scenario>",
  describe: "Show the expanded matrix and its shards; with --k8s-job, write it as a Kubernetes Indexed Job",
  builder: (y: Argv) =>
    y
      .positional("scenario", { type: "string", demandOption: true, describe: "Scenario YAML file" })
      .option("shards", { type: "number", default: 1, describe: "Shards to deal the episodes into" })
      .option("k8s-job", {
        type: "string",
        describe: "Write an Indexed Job (one pod per shard, `run --shard job/N`) and its merge Job to this YAML file",
      })
      .option("name", { type: "string", describe: "Object name (default: matrix-<scenario name>)" })
      .option("namespace", { type: "string", default: "chaos-rl", describe: "Namespace of the Jobs" })
      .option("image", { type: "string", default: "chaos-rl-harness:dev", describe: "The harness image" })
      .option("parallelism", { type: "number", describe: "Pods at once (default: --shards)" })
      .option("jobs-per-pod", { type: "number", default: 1, describe: "Worker threads (and CPUs) per pod" })
      .option("pvc", { type: "string", default: "runs", describe: "PersistentVolumeClaim for the shard stores" })
      .example("$0 plan scenarios/full-matrix.yaml --shards 4", "Episodes per shard")
      .example(
        "$0 plan scenarios/full-matrix.yaml --shards 20 --k8s-job matrix-job.yaml",
        "20 pods on a cluster; the file's header says how to run and merge",
      ) as unknown as Argv<PlanArgs>,
  handler: async (argv) => {
    const loaded = await loadScenarioOrThrow(argv.scenario);
    const plan = expandPlan(loaded.scenario);
    const count = argv.shards;
    const sizes = Array.from({ length: count }, (_, k) => shardOf(plan, { index: k + 1, count }).length);
    if (argv["k8s-job"] !== undefined) {
      const name = argv.name ?? defaultJobName(loaded.scenario.name);
      writeFileSync(
        argv["k8s-job"],
        k8sJobYaml({
          name,
          namespace: argv.namespace,
          image: argv.image,
          shards: count,
          parallelism: argv.parallelism,
          jobsPerPod: argv["jobs-per-pod"],
          pvc: argv.pvc,
          scenarioFile: argv.scenario,
          scenarioText: loaded.text,
          backend: loaded.scenario.backend,
        }),
      );
      process.stdout.write(`wrote ${argv["k8s-job"]}: Indexed Job ${name} (${count} shards) and ${name}-merge\n`);
    }
    process.stdout.write(
      `${plan.length} episodes; ${count} shard(s) of ${Math.min(...sizes)}-${Math.max(...sizes)} episodes\n`,
    );
  },
};
