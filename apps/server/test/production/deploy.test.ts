import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../src/db/embedded.js";
import { REPO_ROOT } from "../../src/paths.js";
import { createTestDatabase, waitFor, type TestDatabase } from "../helpers/db.js";

const run = promisify(execFile);
const SERVER = path.join(REPO_ROOT, "apps/server");

/**
 * Issue 20: the server runs from a folder made by `pnpm deploy --prod`, with only production dependencies
 * — no TypeScript, no tsx — as `node <folder>/dist/main.js`, and answers /readyz.
 */
describe("a deployed folder", () => {
  const folder = mkdtempSync(path.join(os.tmpdir(), "runway-deploy-"));
  let t: TestDatabase | undefined;
  afterAll(async () => {
    await t?.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it("starts with node dist/main.js and no TypeScript tooling, and serves the API and the dashboard", async () => {
    if (!existsSync(path.join(REPO_ROOT, "apps/dashboard/dist/index.html"))) {
      await run("pnpm", ["--filter", "@runway/dashboard", "build"], { cwd: REPO_ROOT, timeout: 300_000 });
    }
    await run(process.execPath, ["build.mjs"], { cwd: SERVER, timeout: 120_000 });
    const out = path.join(folder, "runway");
    await run("pnpm", ["--filter", "@runway/server", "deploy", "--prod", out], { cwd: REPO_ROOT, timeout: 180_000 });

    for (const dev of ["typescript", "tsx", "vitest", "esbuild", "@runway/shared"]) {
      expect(existsSync(path.join(out, "node_modules", dev)), `${dev} is not deployed`).toBe(false);
    }
    expect(existsSync(path.join(out, "src"))).toBe(false);

    const help = await run(process.execPath, [path.join(out, "dist/main.js"), "--help"], { cwd: folder, timeout: 60_000 });
    expect(help.stdout).toContain("RUNWAY_CONCURRENCY");

    t = await createTestDatabase();
    const port = await freePort();
    let log = "";
    const child = spawn(process.execPath, [path.join(out, "dist/main.js")], {
      cwd: folder,
      // Only what a production host has: no PATH into the workspace, nothing from the test runner.
      env: {
        PATH: "/usr/bin:/bin",
        DATABASE_URL: t.url,
        PORT: String(port),
        RUNWAY_DEMO: "0",
        RUNWAY_ADMIN_PASSWORD: "deploy-test",
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (b: Buffer) => (log += b.toString()));
    child.stderr.on("data", (b: Buffer) => (log += b.toString()));
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor(
        async () => {
          const r = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
          return r?.status === 200 ? r : undefined;
        },
        { timeoutMs: 90_000, what: "/readyz of the deployed server" },
      );
      const page = await fetch(`${base}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<div id="app"');
      const login = await fetch(`${base}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "admin", password: "deploy-test" }),
      });
      expect(login.status).toBe(200);
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  }, 600_000);
});
