import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "infra/**/*.test.ts", "migrations/**/*.test.ts", "policies/**/*.test.ts"],
    // Suites start embedded PostgreSQL and CLI subprocesses: two cores, so run files in forks, a few at a time.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The JSON report is what .ci/run counts its "N passed, N failed" line from.
    reporters: ["default", ["json", { outputFile: ".tmp/vitest-report.json" }]],
  },
});
