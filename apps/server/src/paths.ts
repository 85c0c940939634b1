import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Where the server finds its files. From the sources (tsx, tests) that is the repository. The built
 * server (`dist/main.js`, one bundle — see build.mjs) carries its migrations and the dashboard beside
 * it, so a deployed folder needs nothing else; its data directory defaults to the repository when it
 * runs inside one (the `pnpm start` case), else to the deployed folder.
 */
const HERE = path.dirname(fileURLToPath(import.meta.url));

export const BUNDLED = existsSync(path.join(HERE, "migrations")) && existsSync(path.join(HERE, "main.js"));

function workspaceRoot(from: string): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "pnpm-workspace.yaml"))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The repository (or, for a deployed bundle outside one, the deployed folder). */
export const REPO_ROOT = BUNDLED ? (workspaceRoot(HERE) ?? path.resolve(HERE, "..")) : path.resolve(HERE, "../../..");

export const MIGRATIONS_DIR = BUNDLED ? path.join(HERE, "migrations") : path.join(REPO_ROOT, "migrations");

export const DASHBOARD_DIR = BUNDLED ? path.join(HERE, "dashboard") : path.join(REPO_ROOT, "apps/dashboard/dist");
