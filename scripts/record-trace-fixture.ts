/**
 * Writes a recorded run of a trace store as a JSON fixture (harness/trace-fixture.ts):
 *   npx tsx scripts/record-trace-fixture.ts --db runs/x.duckdb [--run ID] --out harness/fixtures/x.json
 * Default run: the latest.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { TraceStore } from "../harness/store.ts";
import { dumpRun } from "../harness/trace-fixture.ts";

const { values } = parseArgs({ options: { db: { type: "string" }, run: { type: "string" }, out: { type: "string" } } });
if (!values.db || !values.out) {
  process.stderr.write("usage: record-trace-fixture.ts --db FILE [--run ID] --out FILE.json\n");
  process.exit(2);
}
const store = await TraceStore.open(values.db);
try {
  const runs = await store.listRuns();
  const runId = values.run ?? runs.at(-1)?.runId;
  if (runId === undefined) throw new Error(`${values.db} holds no run`);
  const fixture = await dumpRun(store, runId);
  writeFileSync(values.out, `${JSON.stringify(fixture)}\n`);
  process.stdout.write(`${values.out}: run ${runId}, ${fixture.episodes.length} episodes\n`);
} finally {
  await store.close();
}
