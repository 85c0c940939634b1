// `pnpm start`: runs the compiled server (apps/server/dist/main.js) in this process, building it first
// only when the build is missing or older than any of its inputs (sources, locales, migrations, the
// dashboard, the lockfile). Arguments pass through (`pnpm start --no-demo`).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const stamp = path.join(root, "apps/server/dist/BUILD");
const INPUTS = [
  "apps/server/src",
  "apps/server/build.mjs",
  "apps/server/package.json",
  "packages/shared/src",
  "packages/shared/package.json",
  "apps/dashboard/src",
  "apps/dashboard/index.html",
  "apps/dashboard/package.json",
  "apps/dashboard/vite.config.ts",
  "locales",
  "migrations",
  "pnpm-lock.yaml",
];

function newest(p) {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const e of readdirSync(p)) if (e !== "node_modules" && e !== "dist") max = Math.max(max, newest(path.join(p, e)));
  return max;
}

const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
const changed = Math.max(...INPUTS.map((i) => newest(path.join(root, i))));
if (built < changed) {
  console.log(built === 0 ? "Building Runway (first start)…" : "Sources changed since the last build: rebuilding…");
  const r = spawnSync("pnpm", ["build"], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
await import(pathToFileURL(path.join(root, "apps/server/dist/main.js")).href);
