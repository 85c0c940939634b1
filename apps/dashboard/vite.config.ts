import { fileURLToPath, URL } from "node:url";
import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vitest/config";

// `pnpm dev` serves the dashboard with hot reload and sends /api to the server (`pnpm --filter
// @runway/server dev`, port 8080 unless RUNWAY_API_URL says otherwise). `pnpm build` writes dist/, which
// the server serves at / in production.
const apiTarget = process.env.RUNWAY_API_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [vue()],
  resolve: {
    alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) },
  },
  server: {
    port: 5173,
    proxy: {
      "/api": { target: apiTarget, changeOrigin: false },
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1200,
    rollupOptions: {
      output: {
        manualChunks(id) {
          if (id.includes("node_modules/echarts") || id.includes("node_modules/zrender")) return "charts";
          return undefined;
        },
      },
    },
  },
  test: {
    environment: "happy-dom",
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    restoreMocks: true,
    unstubGlobals: true,
    // Mounting the whole app in happy-dom is slow on a busy 2-core machine.
    testTimeout: 20_000,
  },
});
