#!/usr/bin/env node
// The `harness` bin: loads the TypeScript CLI through tsx, so `npm link` / `npx harness`
// work without a build step.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../harness/cli.ts");
await main();
