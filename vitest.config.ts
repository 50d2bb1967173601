import { defineConfig } from "vitest/config";

// Two projects: pure logic runs in parallel; anything that starts real processes or binds
// sockets runs one file at a time (the machine has two cores and other tenants).
export default defineConfig({
  test: {
    globalSetup: ["test/global-setup.ts"],
    projects: [
      {
        test: {
          name: "unit",
          include: [
            "test/unit/**/*.test.ts",
            "test/property/**/*.test.ts",
            "test/sim/**/*.test.ts",
          ],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
