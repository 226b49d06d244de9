/**
 * The controller when its trace store refuses writes: the store's file lives on a small
 * tmpfs, which a test fills (a real ENOSPC from the kernel, through DuckDB), then empties.
 * The controller must keep observing and deciding, record each refused batch in its audit
 * file (which lives elsewhere), and, once there is room again, commit every step it held
 * back: no step of the run is missing from the store afterwards.
 * Needs root (mount); skipped elsewhere.
 */
import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TraceStore } from "../store.ts";
import { controllerConfigSchema } from "./config.ts";
import { type AuditRecord, nextAudits, startController } from "./controller.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A tmpfs of `size` mounted at a new directory, or null where mounting is not allowed. */
function smallDisk(size: string): string | null {
  if (process.platform !== "linux" || process.getuid?.() !== 0) return null;
  const dir = mkdtempSync(join(tmpdir(), "controller-disk-"));
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { encoding: "utf8" });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  cleanups.push(() => {
    spawnSync("umount", ["-l", dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Writes `file` until the disk is full (ENOSPC). */
function fill(file: string): void {
  const fd = openSync(file, "w");
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    closeSync(fd);
  }
}

const note = (what: string) => (r: AuditRecord) => r.type === "controller" && r.what === what;

describe("harness controller with a store that refuses writes", () => {
  it("keeps running through a full disk, records each refusal, and commits every held-back step once there is room", async (ctx) => {
    const disk = smallDisk("16m");
    if (disk === null) {
      ctx.skip();
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "controller-store-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(disk, "db"));
    const db = join(disk, "db", "controller.duckdb");
    const config = controllerConfigSchema.parse({
      name: "st",
      backend: "sim",
      intervalS: 0.05,
      minIntervalS: 0,
      mode: "autonomous",
      listen: { port: 0 },
      batchSteps: 5,
      store: db,
    });
    const ctl = await startController({ config, fileName: "st.yaml", text: "" }, { cwd: dir, simPauseMs: 20 });
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await ctl.stop();
    });
    await nextAudits(ctl, note("store-committed"), 2);

    // The disk fills: batches are refused, and the loop goes on stepping.
    const filler = join(disk, "filler");
    const errors = nextAudits(ctl, note("store-error"), 2);
    fill(filler);
    const refused = await errors;
    expect((refused[0] as Extract<AuditRecord, { type: "controller" }>).detail).toMatch(/No space left on device/);
    const stepsDuring = await nextAudits(ctl, (r) => r.type === "step", 10);
    expect(stepsDuring).toHaveLength(10);

    // Room again: the held-back batches go in by themselves.
    rmSync(filler);
    await nextAudits(ctl, note("store-committed"), 2);
    const last = await nextAudits(ctl, (r) => r.type === "step");
    const lastStep = (last[0] as Extract<AuditRecord, { type: "step" }>).step;
    stopped = true;
    expect(await ctl.stop()).toEqual([]);

    const store = await TraceStore.open(db);
    try {
      const [s] = (await store.query(
        "SELECT count(*)::INTEGER AS n, count(DISTINCT step)::INTEGER AS d, min(step)::INTEGER AS lo, max(step)::INTEGER AS hi FROM steps",
      )) as { n: number; d: number; lo: number; hi: number }[];
      // Every step from 0 to the last one the loop took before the stop, once each.
      expect(s!.lo).toBe(0);
      expect(s!.hi).toBeGreaterThanOrEqual(lastStep);
      expect(s!.n).toBe(s!.hi + 1);
      expect(s!.d).toBe(s!.n);
      const [ep] = await store.query("SELECT status, steps FROM episodes");
      expect(ep).toMatchObject({ status: "completed", steps: s!.n });
    } finally {
      await store.close();
    }
  }, 300_000);
});
