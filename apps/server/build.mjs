// Builds the server for production: one ESM bundle (dist/main.js, plus dist/rotate-key.js) with our own
// packages (@runway/shared, the locales) compiled in and every npm dependency left external, so
// `node dist/main.js` starts without TypeScript tooling. The migrations and the built dashboard are
// copied beside it (src/paths.ts finds them there), which makes `pnpm deploy --prod` output self-contained.
import { build } from "esbuild";
import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const dist = path.join(here, "dist");
const pkg = JSON.parse(await readFile(path.join(here, "package.json"), "utf8"));
const external = Object.keys(pkg.dependencies ?? {}).filter((d) => !d.startsWith("@runway/"));

const started = Date.now();
await rm(dist, { recursive: true, force: true });
await build({
  entryPoints: { main: "src/main.ts", "rotate-key": "src/cli/rotate-key.ts" },
  absWorkingDir: here,
  outdir: dist,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20.19",
  sourcemap: true,
  external,
  // Some CommonJS dependencies call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __runwayRequire } from 'node:module'; const require = __runwayRequire(import.meta.url);" },
  logLevel: "warning",
});
await cp(path.join(root, "migrations"), path.join(dist, "migrations"), { recursive: true });
const dashboard = path.join(root, "apps/dashboard/dist");
if (!existsSync(path.join(dashboard, "index.html"))) throw new Error("build the dashboard first: pnpm --filter @runway/dashboard build");
await cp(dashboard, path.join(dist, "dashboard"), { recursive: true });
await mkdir(dist, { recursive: true });
await writeFile(path.join(dist, "BUILD"), `${new Date().toISOString()}\n`);
console.log(`server built into ${path.relative(root, dist)} in ${Date.now() - started} ms`);
