import { ConfigError, loadConfig } from "./config.js";
import { renderHelp } from "./config/read.js";

/**
 * The process's work (`pnpm start`, `node dist/main.js`, `tsx src/main.ts`): one replica with the production
 * parts. Apart from main.ts so that the built server can load this module through V8's code cache first
 * (boot.ts) and call it after.
 */
export function main(): void {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    process.stdout.write(renderHelp());
    return;
  }
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`runway: invalid configuration (${err.problems.length} problem${err.problems.length === 1 ? "" : "s"}):`);
    for (const p of err.problems) console.error(`  ${p.env}=${JSON.stringify(p.given)}: ${p.message}`);
    console.error("Run with --help for every setting.");
    process.exit(2);
  }
  // Imported only now: --help and a bad configuration answer without loading the whole server. The
  // control database is opened first (a small module): its round trips run while the HTTP and scheduler
  // modules, most of the start's CPU, load (issue 20).
  const fail = (err: unknown) => {
    console.error(err);
    process.exit(1);
  };
  import("./control.js")
    .then(({ openControl }) => {
      const control = openControl(config);
      control.catch(fail); // reported at once, even while replica.js is still loading
      return import("./replica.js").then(({ startReplica }) => startReplica(config, {}, control));
    })
    .catch(fail);
}

/** Evaluates the modules main() loads lazily, without starting anything: the code cache's build (boot.ts). */
export async function loadModules(): Promise<void> {
  await Promise.all([import("./control.js"), import("./replica.js")]);
}
