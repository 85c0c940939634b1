import { defineConfig } from "vitest/config";

// The CLI tests start a real server (embedded PostgreSQL) once and run the built `runway` bin against it.
export default defineConfig({ test: { testTimeout: 180_000, hookTimeout: 240_000 } });
