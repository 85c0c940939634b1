import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

/**
 * The built server's entry, dist/main.js (build.mjs; the sources start at main.ts). The server is one
 * CommonJS bundle, dist/server.cjs, compiled here with V8's code cache, dist/server.cjs.cache: compiling
 * the bundle's 2.4 MB from source was ~0.13 s of every start on a quiet machine, more under load, and
 * Node 20 keeps no compile cache of its own (module.enableCompileCache is Node 22). Only node: built-ins
 * are imported, so this file stays small and is compiled the usual way.
 *
 * V8 checks a cache against the source, its own version and its flags, and ignores one that does not fit
 * (`cachedDataRejected`): the server then compiles from source as it would without a cache, and writes a
 * fitting cache a little after it started (a Node upgrade without a rebuild), where the folder is writable.
 */
const DIR = path.dirname(fileURLToPath(import.meta.url));
const SERVER_FILE = path.join(DIR, "server.cjs");
const CACHE_FILE = `${SERVER_FILE}.cache`;
/** After start-up (the functions compiled by then are in the cache), when no fitting cache was found. */
const REFRESH_AFTER_MS = 10_000;

interface ServerModule {
  main(): void;
  loadModules(): Promise<void>;
}

function load(): { server: ServerModule; script: vm.Script; cached: boolean } {
  // build.mjs keeps the bundle pure ASCII, so latin1 reads it without a UTF-8 decoding pass.
  const source = readFileSync(SERVER_FILE, "latin1");
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(CACHE_FILE);
  } catch {
    cachedData = undefined; // no cache (yet): compiled from source
  }
  // CommonJS's own wrapper, plus the dynamic import() of the packages left outside the bundle (build.mjs
  // rewrites those calls): a vm.Script may not call import() itself without an experimental option.
  const wrapped = `(function (exports, require, module, __filename, __dirname, __runwayImport) {${source}\n})`;
  const script = new vm.Script(wrapped, { filename: SERVER_FILE, cachedData });
  const module = { exports: {} as ServerModule };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run(module.exports, createRequire(SERVER_FILE), module, SERVER_FILE, DIR, (specifier: string) => import(specifier));
  return { server: module.exports, script, cached: cachedData !== undefined && !script.cachedDataRejected };
}

/** Replaces the cache file whole (a concurrent reader sees the old or the new one, never half of one). */
function writeCache(script: vm.Script): void {
  const tmp = `${CACHE_FILE}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, CACHE_FILE);
  } catch {
    // A read-only folder: the server runs the same, it only compiles from source at each start.
    rmSync(tmp, { force: true });
  }
}

if (process.argv[2] === "--build-code-cache") {
  // build.mjs: evaluates every module of the server (without starting it) so that the functions their
  // top levels run are compiled, then writes the cache.
  const { server, script } = load();
  await server.loadModules();
  writeCache(script);
} else {
  const { server, script, cached } = load();
  if (!cached) setTimeout(() => writeCache(script), REFRESH_AFTER_MS).unref();
  server.main();
}
