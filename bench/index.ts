/**
 * `npm run bench`: every benchmark, in turn. For heap figures run it with the GC exposed:
 *   node --expose-gc --import tsx bench/index.ts
 */
import { printSimBench } from "./sim.ts";

printSimBench();
