/**
 * What policies do, per fault type, in a stored run: executed actions per episode by
 * type, the time from a fault's injection to the first action the policy took after it,
 * MTTR and mean desired replicas. The README's "analysis of the learned policy" tables come
 * from this script:
 *
 *   npx tsx scripts/policy-analysis.ts runs/full-matrix.duckdb [--run ID] [--policies rl,heuristic]
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { markdownTable } from "../reports/markdown.ts";

const argv = await yargs(hideBin(process.argv))
  .usage("$0 <db> [--run ID] [--policies a,b]")
  .command("$0 <db>", "per-fault behaviour of the policies of a run")
  .positional("db", { type: "string", demandOption: true })
  .option("run", { type: "string", describe: "Run id (default: the latest)" })
  .option("policies", { type: "string", default: "rl,heuristic,hpa", describe: "Policy labels, comma-separated" })
  .strict()
  .parseAsync();

if (!existsSync(String(argv.db))) {
  // The default database is the one `harness run scenarios/full-matrix.yaml` writes without --db.
  process.stderr.write(`No trace store at ${resolve(String(argv.db))}; pass the --db your run wrote\n`);
  process.exit(2);
}
const instance = await DuckDBInstance.create(String(argv.db), { access_mode: "READ_ONLY" });
const con = await instance.connect();
const rows = async (sql: string, params: (string | number)[] = []) =>
  (await con.runAndReadAll(sql, params)).getRowObjectsJson() as Record<string, string | number | null>[];

const runId =
  argv.run ?? String((await rows("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1"))[0]?.run_id ?? "");
if (runId === "") throw new Error(`${argv.db} holds no run`);
const policies = argv.policies.split(",").map((p) => p.trim());

// Action ids of the contract: 1 restart, 2 scale up, 3 scale down, 4 drain.
const table = await rows(
  `WITH eps AS (
     SELECT episode_id, fault, policy FROM episodes
     WHERE run_id = ? AND status = 'completed' AND list_contains(string_split(?, ','), policy)
   ),
   acts AS (
     SELECT e.fault, e.policy, count(*) FILTER (WHERE s.applied AND s.executed = 1) AS restarts,
            count(*) FILTER (WHERE s.applied AND s.executed = 2) AS ups,
            count(*) FILTER (WHERE s.applied AND s.executed = 3) AS downs,
            count(*) FILTER (WHERE s.applied AND s.executed = 4) AS drains,
            avg(s.desired_replicas) AS replicas,
            count(DISTINCT e.episode_id) AS episodes
     FROM eps e JOIN steps s USING (episode_id) GROUP BY ALL
   ),
   first_action AS (
     -- For each injection, the first applied action at or after it (none: left out).
     SELECT e.fault, e.policy, min(s.time_s) - i.time_s AS delay_s
     FROM eps e
     JOIN events i ON i.episode_id = e.episode_id AND i.kind = 'fault-injected'
     JOIN steps s ON s.episode_id = e.episode_id AND s.applied AND s.executed > 0 AND s.time_s >= i.time_s
     GROUP BY e.fault, e.policy, e.episode_id, i.fault_id, i.time_s
   ),
   delays AS (
     SELECT fault, policy, median(delay_s) AS first_action_median_s, count(*) AS acted_on
     FROM first_action GROUP BY ALL
   ),
   rec AS (
     SELECT e.fault, e.policy, avg(i.ttr_s) AS mttr_s, count(*) AS incidents
     FROM eps e JOIN incidents i USING (episode_id) GROUP BY ALL
   )
   SELECT a.fault, a.policy, a.episodes,
          round(a.restarts / a.episodes, 2) AS restarts, round(a.ups / a.episodes, 2) AS scale_ups,
          round(a.downs / a.episodes, 2) AS scale_downs, round(a.drains / a.episodes, 2) AS drains,
          round(d.first_action_median_s, 0) AS first_action_s, round(r.mttr_s, 1) AS mttr_s,
          round(a.replicas, 2) AS replicas
   FROM acts a LEFT JOIN delays d USING (fault, policy) LEFT JOIN rec r USING (fault, policy)
   ORDER BY a.fault, list_position(string_split(?, ','), a.policy)`,
  [runId, policies.join(","), policies.join(",")],
);

const columns = [
  ["fault", "fault"],
  ["policy", "policy"],
  ["restarts", "restarts/ep"],
  ["scale_ups", "scale-ups/ep"],
  ["scale_downs", "scale-downs/ep"],
  ["drains", "drains/ep"],
  ["first_action_s", "first action after injection (median s)"],
  ["mttr_s", "MTTR s"],
  ["replicas", "mean replicas"],
] as const;
console.log(`run ${runId}\n`);
console.log(
  markdownTable({
    header: columns.map(([, h]) => h),
    align: "llrrrrrrr",
    rows: table.map((r) => columns.map(([k]) => ({ text: r[k] === null ? "-" : String(r[k]) }))),
  }),
);
con.closeSync();
instance.closeSync();
