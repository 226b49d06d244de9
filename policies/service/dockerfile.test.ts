/**
 * The agent service's Dockerfile, checked without a Docker engine (none runs on these
 * machines): parsed and linted (dockerfile-ast, dockerfile-utils), held to what issue 15
 * asks of it (multi-stage, a non-root user, the model baked in, a HEALTHCHECK), and then
 * "built" by hand: every COPY of the final stage is carried out into a temporary /app
 * (with the .dockerignore applied; the deps stage's `npm ci` is this project's node_modules),
 * and the image's ENTRYPOINT + CMD is run there as the image's user (uid 1000, as `node` is
 * in the official node images), with its ENV and WORKDIR. The HEALTHCHECK's own command must
 * then pass against it, and fail once it has stopped.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { type Dockerfile, DockerfileParser, type Instruction, type JSONInstruction } from "dockerfile-ast";
import { validate } from "dockerfile-utils";
import { minimatch } from "minimatch";
import { afterAll, describe, expect, it } from "vitest";
import { LISTENING_LINE } from "./cli.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const DOCKERFILE = join(import.meta.dirname, "Dockerfile");
const text = readFileSync(DOCKERFILE, "utf8");
const doc: Dockerfile = DockerfileParser.parse(text);
/** BuildKit reads `<Dockerfile>.dockerignore` beside the Dockerfile before the context's own. */
const ignorePatterns = readFileSync(`${DOCKERFILE}.dockerignore`, "utf8")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l !== "" && !l.startsWith("#"));
const ignored = (rel: string) => {
  let out = false;
  for (const p of ignorePatterns) {
    const neg = p.startsWith("!");
    if (minimatch(rel, neg ? p.slice(1) : p, { dot: true })) out = !neg;
  }
  return out;
};

/** The instructions of each stage, by stage name. */
function stages(): { name: string; image: string; instructions: Instruction[] }[] {
  const out: { name: string; image: string; instructions: Instruction[] }[] = [];
  for (const i of doc.getInstructions()) {
    if (i.getKeyword() === "FROM") {
      const args = i.getArguments().map((a) => a.getValue());
      out.push({ image: args[0]!, name: args[2] ?? String(out.length), instructions: [] });
    } else out.at(-1)?.instructions.push(i);
  }
  return out;
}
const args = (i: Instruction) => i.getArguments().map((a) => a.getValue());
const jsonOf = (i: Instruction) => (i as JSONInstruction).getJSONStrings().map((s) => s.getJSONValue());
const fromFlag = (i: Instruction) =>
  (i as Instruction & { getFromFlag?: () => { getValue(): string } | null }).getFromFlag?.()?.getValue() ?? null;

const all = stages();
const final = all.at(-1)!;
const inFinal = (kw: string) => final.instructions.filter((i) => i.getKeyword() === kw);

describe("policies/service/Dockerfile", () => {
  it("parses and lints clean", () => {
    expect(validate(text).map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
    expect(all.length).toBeGreaterThanOrEqual(2);
  });

  it("is multi-stage: the final stage takes node_modules from a build stage, and no npm cache", () => {
    const fromOther = inFinal("COPY").filter((i) => fromFlag(i) !== null);
    expect(fromOther.map(fromFlag)).toEqual([all[0]!.name]);
    expect(all[0]!.instructions.some((i) => i.getKeyword() === "RUN" && /npm ci\b/.test(args(i).join(" ")))).toBe(true);
    expect(inFinal("RUN")).toEqual([]);
    // The base image's Node meets package.json's engines (>= 20.19; the tag follows the 20 line).
    for (const s of all) expect(s.image).toMatch(/^node:(2[0-9])[-.]/);
  });

  it("runs as a non-root user, set before the entrypoint", () => {
    const users = inFinal("USER");
    expect(users).toHaveLength(1);
    const user = args(users[0]!)[0]!;
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    const at = (i: Instruction) => i.getRange().start.line;
    expect(at(users[0]!)).toBeLessThan(at(inFinal("ENTRYPOINT")[0]!));
  });

  it("bakes the model its CMD serves into the image, from files that are in the build context", () => {
    const model = jsonOf(inFinal("CMD")[0]!);
    const path = model[model.indexOf("--model") + 1]!;
    expect(path).toMatch(/\.onnx$/);
    const copied = inFinal("COPY").filter((i) => fromFlag(i) === null);
    expect(copied.some((i) => path.startsWith(`${args(i).at(-1)!.replace(/\/$/, "")}/`))).toBe(true);
    for (const s of all) {
      for (const c of s.instructions.filter((i) => i.getKeyword() === "COPY" && fromFlag(i) === null)) {
        for (const src of args(c).slice(0, -1)) {
          expect(existsSync(join(ROOT, src)), `${src} (COPY in stage ${s.name})`).toBe(true);
          expect(ignored(src), `${src} is excluded by the .dockerignore`).toBe(false);
        }
      }
    }
    // The model's card goes with it (the service refuses a model without its codec).
    expect(ignored(path.replace(/\.onnx$/, ".json"))).toBe(false);
    expect(existsSync(join(ROOT, path.replace(/\.onnx$/, ".json")))).toBe(true);
  });

  it("has a HEALTHCHECK on /ready with an interval, timeout and retries", () => {
    const hc = inFinal("HEALTHCHECK");
    expect(hc).toHaveLength(1);
    const flags = Object.fromEntries(
      (hc[0]! as Instruction & { getFlags(): { getName(): string; getValue(): string | null }[] })
        .getFlags()
        .map((f) => [f.getName(), f.getValue()]),
    );
    expect(Object.keys(flags)).toEqual(expect.arrayContaining(["interval", "timeout", "retries"]));
    expect(Number(flags.retries)).toBeGreaterThanOrEqual(1);
    expect(healthcheckCommand().join(" ")).toContain("/ready");
  });
});

/** The HEALTHCHECK's exec-form command (its JSON array after CMD). */
function healthcheckCommand(): string[] {
  const words = args(inFinal("HEALTHCHECK")[0]!);
  return JSON.parse(words.slice(words.indexOf("CMD") + 1).join(" ")) as string[];
}

const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Every file under `dir` (relative paths), for "the image's /app was not written to". */
function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isSymbolicLink()) return [relative(base, p)];
    return e.isDirectory() ? listFiles(p, base) : [relative(base, p)];
  });
}

/** Carries out the final stage's COPY instructions into `app`, as a build would. */
function assemble(app: string): void {
  for (const c of inFinal("COPY")) {
    const a = args(c).filter((w) => !w.startsWith("--"));
    const dest = join(app, a.at(-1)!);
    if (fromFlag(c) !== null) {
      // The deps stage is `npm ci` of package.json + lock: this project's node_modules.
      expect(a.slice(0, -1)).toEqual(["/app/node_modules"]);
      symlinkSync(join(ROOT, "node_modules"), dest);
      continue;
    }
    for (const src of a.slice(0, -1)) {
      const target = a.at(-1)!.endsWith("/") ? join(dest, src.split("/").at(-1)!) : dest;
      cpSync(join(ROOT, src), target, {
        recursive: true,
        filter: (from) => {
          const rel = relative(ROOT, from);
          return rel === "" || !ignored(rel);
        },
      });
    }
  }
}

function run(
  cmd: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn(cmd[0] === "node" ? process.execPath : cmd[0]!, cmd.slice(1), {
    cwd,
    env,
    uid: 1000,
    gid: 1000,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => {
    out += String(d);
  });
  child.stderr!.on("data", (d) => {
    out += String(d);
  });
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  return { child, out: () => out, exited };
}

const isRoot = process.getuid?.() === 0;

describe("the image, assembled by its COPY instructions and started by its ENTRYPOINT + CMD", () => {
  it.skipIf(!isRoot)(
    "serves as uid 1000 from the copied files alone, passes its HEALTHCHECK, and stops on SIGTERM with exit 0",
    async () => {
      const app = mkdtempSync(join(tmpdir(), "agent-image-"));
      cleanups.push(() => rmSync(app, { recursive: true, force: true }));
      chmodSync(app, 0o755);
      assemble(app);
      // Nothing the image does not copy: no tests, no node_modules copied twice, no runs.
      const files = listFiles(app);
      expect(files.filter((f) => f.endsWith(".test.ts"))).toEqual([]);
      expect(files).toContain("models/ppo-obs-v1.onnx");
      const before = files.sort();

      const port = String(await freePort());
      const workdir = args(inFinal("WORKDIR")[0]!)[0];
      expect(workdir).toBe("/app");
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: app, TMPDIR: tmpdir() };
      for (const e of inFinal("ENV")) {
        for (const kv of args(e)) env[kv.split("=")[0]!] = kv.slice(kv.indexOf("=") + 1);
      }
      // The image listens on 8080; here another port, so tests and other services can run beside it.
      const sub = (w: string) => w.replaceAll("8080", port);
      const cmd = [...jsonOf(inFinal("ENTRYPOINT")[0]!), ...jsonOf(inFinal("CMD")[0]!)].map(sub);
      const server = run(cmd, app, env);
      cleanups.push(() => server.child.kill("SIGKILL"));
      // Waits for the line the service prints once it listens (or for its exit).
      const listening = await new Promise<boolean>((resolve) => {
        const check = () => {
          if (LISTENING_LINE.test(server.out())) resolve(true);
        };
        server.child.stdout!.on("data", check);
        void server.exited.then(() => resolve(false));
      });
      expect(listening, server.out()).toBe(true);

      const probe = healthcheckCommand().map(sub);
      const healthy = run(probe, app, env);
      expect(await healthy.exited, healthy.out()).toBe(0);
      const res = await fetch(`http://127.0.0.1:${port}/predict`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ state: [0.3, 0, 0, 0.5, 0.3, 0.05, 0, 1, 0.3] }),
      });
      expect(res.status).toBe(200);

      server.child.kill("SIGTERM");
      expect(await server.exited, server.out()).toBe(0);
      // The probe can fail: nothing answers now.
      const down = run(probe, app, env);
      expect(await down.exited).toBe(1);
      // The service wrote nothing into /app (a read-only root filesystem would do).
      expect(listFiles(app).sort()).toEqual(before);
      expect(statSync(dirname(join(app, "models/ppo-obs-v1.onnx"))).isDirectory()).toBe(true);
    },
    240_000,
  );
});
