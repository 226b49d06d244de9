import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{harness,policies,scenarios,sim,reports,cluster,scripts}/**/*.test.ts"],
    // Property tests run thousands of simulator steps; the default 5 s is tight on 2 cores under load.
    testTimeout: 30_000,
    // Hooks build fixture stores, start services and close them: 10 s timed out under load.
    hookTimeout: 120_000,
  },
});
