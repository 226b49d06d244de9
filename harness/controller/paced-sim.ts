/**
 * Test support: the simulator behind the `Backend` contract with a real timer between
 * steps, so that a long-running loop on it yields to the event loop (HTTP requests, a
 * person's approval, a kill) the way a wall-clock backend does. Virtual time still
 * advances by whole steps: the dynamics are the simulator's.
 */
import { SimBackend, type SimBackendOptions } from "../../sim/backend.ts";
import type { Backend } from "../core/contract.ts";

export function pacedSim(o: SimBackendOptions, pauseMs = 1): Backend {
  const sim = new SimBackend(o);
  return {
    observe: () => sim.observe(),
    execute: (a) => sim.execute(a),
    inject: (f) => sim.inject(f),
    clear: (f) => sim.clear(f),
    drainEvents: () => sim.drainEvents(),
    clock: {
      now: () => sim.clock.now(),
      sleep: async (s) => {
        sim.clock.sleep(s);
        await new Promise((r) => setTimeout(r, pauseMs));
      },
    },
  };
}
