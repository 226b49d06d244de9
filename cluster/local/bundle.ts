/**
 * The testbed's child processes (replicas, balancer, load generator) run as plain JavaScript
 * bundles, not through tsx: a `node --import tsx` start compiles and resolves every module
 * again in each process, 5-6 s on a busy 2-core machine against ~1.3 s for one bundled
 * file. That start cost is paid by every replica, by every pod-kill replacement and by
 * every testbed, so it set much of an episode's wall time.
 *
 * esbuild bundles each entry once per harness process (kept in memory); the files are written
 * into one temporary directory while any user holds them and removed when the last one
 * releases (and on process exit), so nothing stays behind.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ENTRIES = {
  service: fileURLToPath(new URL("../service/main.ts", import.meta.url)),
  traffic: fileURLToPath(new URL("./traffic-main.ts", import.meta.url)),
} as const;
export type BundleEntry = keyof typeof ENTRIES;

// CommonJS dependencies (prom-client) call `require`; an ESM bundle has none of its own.
const BANNER =
  "import { createRequire as __chaosRlRequire } from 'node:module'; const require = __chaosRlRequire(import.meta.url);";

let code: Promise<Record<BundleEntry, Uint8Array>> | null = null;
let dir: string | null = null;
let users = 0;
let exitHook = false;

function compile(): Promise<Record<BundleEntry, Uint8Array>> {
  code ??= build({
    entryPoints: ENTRIES,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outdir: "out",
    outExtension: { ".js": ".mjs" },
    write: false,
    logLevel: "silent",
    banner: { js: BANNER },
  }).then(
    (r) => {
      const out = {} as Record<BundleEntry, Uint8Array>;
      for (const name of Object.keys(ENTRIES) as BundleEntry[]) {
        const file = r.outputFiles.find((f) => f.path.endsWith(`/${name}.mjs`));
        if (!file) throw new Error(`esbuild produced no bundle for ${name}`);
        out[name] = file.contents;
      }
      return out;
    },
    (err: Error) => {
      code = null;
      throw new Error(`cannot bundle the testbed's processes: ${err.message}`);
    },
  );
  return code;
}

function removeDir(): void {
  if (dir !== null) rmSync(dir, { recursive: true, force: true });
  dir = null;
}

/** A hold on the bundled entry files; `release` once the processes using them are gone. */
export interface BundleHold {
  /** Absolute path of the entry's `.mjs` file. */
  path(entry: BundleEntry): string;
  /** Idempotent. The directory goes when the last hold is released. */
  release(): void;
}

export async function holdBundles(): Promise<BundleHold> {
  const files = await compile();
  if (dir === null) {
    dir = mkdtempSync(join(tmpdir(), "chaos-rl-bundle-"));
    for (const [name, contents] of Object.entries(files)) writeFileSync(join(dir, `${name}.mjs`), contents);
    if (!exitHook) {
      exitHook = true;
      process.on("exit", removeDir);
    }
  }
  const at = dir;
  users++;
  let released = false;
  return {
    path: (entry) => join(at, `${entry}.mjs`),
    release() {
      if (released) return;
      released = true;
      if (--users === 0) removeDir();
    },
  };
}
