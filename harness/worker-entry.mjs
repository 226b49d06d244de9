// The file the runner's worker threads load. A worker inherits a TypeScript loader only
// when its thread accepted the parent's flags (not always: e.g. under --expose-gc), and
// never from the `harness` bin or a test runner, so it registers tsx itself. A second
// registration on top of an inherited one only transforms already-plain JS again.
import { register } from "tsx/esm/api";

register();
const { default: runBatch } = await import("./worker.ts");
export default runBatch;
