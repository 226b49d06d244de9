/**
 * The trace store's schema migration (store-migrate.ts) on a real file of the old version:
 * harness/testdata/store-v4.duckdb.gz was written by the schema-v4 build (commit 17720cb,
 * `harness run harness/testdata/store-v4.scenario.yaml`), and store-v4.expected.json holds
 * what that build's store computed from it (cell metrics in full, every metric view as a
 * row count and a sha256 of its rows). A migrated file must compute the same, and merge and
 * export like a new one.
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { DuckDBInstance } from "@duckdb/node-api";
import { beforeAll, describe, expect, it } from "vitest";
import { VIEW_NAMES } from "../reports/views.ts";
import { runCli, SPAWN_TEST_MS } from "./cli-spawn.ts";
import { openExistingStore } from "./cli-store.ts";
import { OBS_V1_CODEC } from "./core/codecs.ts";
import { TraceStore } from "./store.ts";
import { makeMeta, makeRunContext, makeTrace, tempDir } from "./store-fixtures.ts";
import type { Migration } from "./store-migrate.ts";
import { SCHEMA_VERSION } from "./store-schema.ts";

const here = import.meta.dirname;
const expected = JSON.parse(readFileSync(join(here, "testdata/store-v4.expected.json"), "utf8")) as {
  cellMetrics: Record<string, unknown>[];
  views: Record<string, { rows: number; sha256: string }>;
};
/** The columns schema v5 added: views that pass them through are compared without them. */
const ADDED = ["codec", "pod_name", "pod_uid"];

let dir: string;
/** A fresh copy of the v4 fixture file. */
function v4Copy(name: string): string {
  const file = join(dir, name);
  writeFileSync(file, gunzipSync(readFileSync(join(here, "testdata/store-v4.duckdb.gz"))));
  return file;
}

/** Reads a file without the trace store (and so without migrating it); ":memory:" for Parquet files. */
async function raw(file: string, sql: string): Promise<Record<string, unknown>[]> {
  const inst = await DuckDBInstance.create(file, file === ":memory:" ? {} : { access_mode: "READ_ONLY" });
  try {
    const con = await inst.connect();
    const rows = (await con.runAndReadAll(sql)).getRowObjectsJS();
    con.closeSync();
    return rows.map((r) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v])),
    );
  } finally {
    inst.closeSync();
  }
}

const versions = (file: string) => raw(file, "SELECT version FROM schema_version ORDER BY version");
const columns = (file: string, table: string) =>
  raw(
    file,
    `SELECT column_name, data_type, is_nullable, column_default FROM duckdb_columns()
     WHERE table_name = '${table}' ORDER BY column_index`,
  );

const json = (x: unknown) =>
  JSON.stringify(x, (_k, v) => (typeof v === "bigint" ? Number(v) : v instanceof Date ? v.toISOString() : v));

beforeAll(() => {
  dir = tempDir("store-migrate-");
});

describe("a schema v4 trace store", () => {
  it("is refused by a read-only open, which names the command that migrates it and leaves the file as it was", async () => {
    const file = v4Copy("read-only.duckdb");
    const before = createHash("sha256").update(readFileSync(file)).digest("hex");
    await expect(openExistingStore(file)).rejects.toMatchObject({
      code: "store_unreadable",
      message: expect.stringContaining(`run \`harness migrate --db ${file}\``),
    });
    expect(createHash("sha256").update(readFileSync(file)).digest("hex")).toBe(before);
    expect(await versions(file)).toEqual([{ version: 4 }]);
  });

  it("is migrated in place on a writing open: once, logged, to the same columns as a new store", async () => {
    const file = v4Copy("migrated.duckdb");
    const told: Migration[] = [];
    const store = await TraceStore.open(file, { onMigrated: (m) => told.push(m) });
    await store.close();
    expect(told).toMatchObject([{ file, from: 4, to: SCHEMA_VERSION }]);
    expect(await versions(file)).toEqual([{ version: 4 }, { version: 5 }]);

    const fresh = join(dir, "fresh.duckdb");
    await (await TraceStore.open(fresh)).close();
    for (const table of ["runs", "episodes", "steps", "events", "guard_reasons", "actions", "codecs"]) {
      expect(await columns(file, table), table).toEqual(await columns(fresh, table));
    }
    expect(await raw(file, "SELECT DISTINCT codec FROM steps")).toEqual([{ codec: OBS_V1_CODEC.code }]);
    expect(await raw(file, "SELECT DISTINCT pod_name, pod_uid FROM events")).toEqual([{ pod_name: "", pod_uid: "" }]);
    expect(await raw(file, "SELECT code, name, dim FROM codecs WHERE code <= 1 ORDER BY code")).toEqual([
      { code: 0, name: "none", dim: 0 },
      { code: 1, name: "obs-v1", dim: 9 },
    ]);

    // Opening it again finds it current.
    const again = await TraceStore.open(file, { onMigrated: (m) => told.push(m) });
    await again.close();
    expect(told).toHaveLength(1);
  });

  it("computes every metric view as the v4 build did", async () => {
    const store = await TraceStore.open(v4Copy("views.duckdb"), { onMigrated: () => {} });
    try {
      expect(JSON.parse(json(await store.cellMetrics()))).toEqual(expected.cellMetrics);
      for (const view of VIEW_NAMES) {
        const cols = (await store.query(`SELECT column_name FROM (DESCRIBE ${view})`)).map((r) => r.column_name);
        const drop = ADDED.filter((c) => cols.includes(c));
        const rows = await store.query(
          `SELECT * ${drop.length > 0 ? `EXCLUDE (${drop.join(", ")})` : ""} FROM ${view} ORDER BY ALL`,
        );
        const got = { rows: rows.length, sha256: createHash("sha256").update(json(rows)).digest("hex") };
        expect(got, view).toEqual(expected.views[view]);
      }
    } finally {
      await store.close();
    }
  });

  it("is left at v4 when its migration fails half-way: one transaction", async () => {
    const file = v4Copy("half.duckdb");
    // A column the migration adds after others: its ALTER fails once steps.codec exists.
    const inst = await DuckDBInstance.create(file);
    const con = await inst.connect();
    await con.run("ALTER TABLE events ADD COLUMN pod_uid VARCHAR");
    con.closeSync();
    inst.closeSync();
    await expect(TraceStore.open(file, { onMigrated: () => {} })).rejects.toThrow(/pod_uid/);
    expect(await versions(file)).toEqual([{ version: 4 }]);
    expect((await columns(file, "steps")).map((c) => c.column_name)).not.toContain("codec");
    expect((await columns(file, "events")).map((c) => c.column_name)).not.toContain("pod_name");
  });

  it("merges into a current store as it is (read-only), with the values its migration would give", async () => {
    const source = v4Copy("merge-source.duckdb");
    const target = join(dir, "merge-target.duckdb");
    const store = await TraceStore.open(target);
    try {
      await store.beginRun(makeRunContext({ runId: "other" }));
      const trace = makeTrace(3, () => ({ codec: 1 }), [
        { kind: "pod-ready", podId: 2, podName: "demo-2", podUid: "uid-2" },
      ]);
      await store.writeEpisode("other", makeMeta(), trace);
      const summary = await store.mergeFrom(source);
      expect(summary.episodesAdded).toBe(4);
      expect(await store.query("SELECT codec, count(*) AS n FROM steps GROUP BY ALL ORDER BY ALL")).toEqual([
        { codec: 1, n: 163 },
      ]);
      expect(await store.query("SELECT pod_name, count(*) > 0 AS some FROM events GROUP BY ALL ORDER BY ALL")).toEqual([
        { pod_name: "", some: true },
        { pod_name: "demo-2", some: true },
      ]);
    } finally {
      await store.close();
    }
    expect(await versions(source)).toEqual([{ version: 4 }]);
  });

  it("exports to Parquet with the new columns and the codecs table once migrated", async () => {
    const store = await TraceStore.open(v4Copy("export.duckdb"), { onMigrated: () => {} });
    let files: string[];
    try {
      files = await store.exportParquet(join(dir, "parquet"));
    } finally {
      await store.close();
    }
    const file = (name: string) => files.find((f) => f.endsWith(`/${name}.parquet`))!;
    const cols = async (name: string) =>
      (await raw(":memory:", `DESCRIBE SELECT * FROM '${file(name)}'`)).map((r) => r.column_name);
    expect(await cols("steps")).toContain("codec");
    expect(await cols("events")).toEqual(expect.arrayContaining(["pod_name", "pod_uid"]));
    expect(await raw(":memory:", `SELECT name FROM '${file("codecs")}' WHERE code = 1`)).toEqual([{ name: "obs-v1" }]);
    expect(await raw(":memory:", `SELECT DISTINCT codec FROM '${file("steps")}'`)).toEqual([{ codec: 1 }]);
  });

  it(
    "`harness migrate --db` migrates it, and says so when there is nothing left to do",
    async () => {
      const file = v4Copy("cli.duckdb");
      const cwd = join(here, "..");
      const first = await runCli(["migrate", "--db", file], { cwd });
      expect(first.stderr).toContain("trace store migrated");
      expect(first).toMatchObject({ code: 0, stdout: `migrated ${file} from schema version 4 to ${SCHEMA_VERSION}\n` });
      const second = await runCli(["migrate", "--db", file], { cwd });
      expect(second).toMatchObject({
        code: 0,
        stdout: `${file} is at schema version ${SCHEMA_VERSION} already: nothing to migrate\n`,
      });
      const refused = await runCli(["metrics", "--db", v4Copy("cli-read.duckdb")], { cwd });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain("harness migrate --db");
    },
    SPAWN_TEST_MS,
  );
});
