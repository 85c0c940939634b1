import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { ApiError, clientFrom, UsageError } from "./client.js";
import { createRollout } from "./create.js";
import { output } from "./output.js";
import { runRollout } from "./run.js";
import { parseStages } from "./stages.js";
import { Exit, watchRollout } from "./watch.js";

const collect = (v: string, prev: string[]) => [...prev, v];

/** A rollout id as the API writes it: a mistyped one is a usage error (exit 2), not the server's 400 (exit 4). */
function rolloutId(v: string): string {
  if (!/^[1-9][0-9]{0,17}$/.test(v))
    throw new InvalidArgumentError("a rollout id is a positive whole number, as `rollout create` prints it");
  return v;
}

/** Seconds, a positive whole number: "--timeout 1h" once meant no timeout at all. */
function seconds(v: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(v)) throw new InvalidArgumentError("give whole seconds, e.g. 3600");
  return Number(v);
}

/** Builds the `runway` program; `main` runs it and returns the exit code (tests call it in-process too). */
export function program(onExit: (code: number) => void): Command {
  const root = new Command("runway")
    .description(
      "Create, run and watch Runway rollouts from a folder of migrations.\nAuthenticates with RUNWAY_TOKEN (an API token) against RUNWAY_URL.",
    )
    .addOption(new Option("--url <url>", "Runway server (default: $RUNWAY_URL)"))
    .addOption(new Option("--token <token>", "API token (default: $RUNWAY_TOKEN; prefer the variable: flags show in process lists)"))
    .option("--json", "machine-readable output on stdout", false)
    .showHelpAfterError()
    .exitOverride();
  const rollout = root.command("rollout").description("rollouts: create from migrations, run, watch");
  const ctx = () => {
    const g = root.opts<{ url?: string; token?: string; json: boolean }>();
    return { client: clientFrom(g), out: output(g.json) };
  };

  rollout
    .command("create")
    .description("upload a folder of SQL files (or a .zip) as a release and create a rollout of what each target still needs")
    .argument("<source>", "folder of V<version>__<description>.sql files (searched recursively), or a .zip")
    .requiredOption("-p, --project <project>", "project id")
    .requiredOption(
      "-s, --stage <env=targets>",
      "a stage: ENV=GROUP or ENV=INSTANCE/DATABASE, comma-separated; repeat for more stages, in order",
      collect,
      [],
    )
    .option("-t, --title <title>", "rollout title (default: the folder name and time)")
    .option("--preview", "only show the plan; create nothing")
    .addHelpText(
      "after",
      "\nExample:\n  runway rollout create --project shop --stage staging=tenants-staging --stage prod=tenants ./migrations\n\nPrints the new rollout's id on stdout (nothing when every target is up to date).",
    )
    .action(async (source: string, o: { project: string; stage: string[]; title?: string; preview?: boolean }) => {
      const { client, out } = ctx();
      const stages = parseStages(o.stage);
      onExit(
        await createRollout(
          client,
          { project: o.project, stages, source, ...(o.title ? { title: o.title } : {}), previewOnly: !!o.preview },
          out,
        ),
      );
    });

  rollout
    .command("run")
    .description("run every task of the rollout that has not started")
    .argument("<rolloutId>", "rollout id", rolloutId)
    .option("--retry", "also retry FAILED and CANCELED tasks")
    .action(async (id: string, o: { retry?: boolean }) => {
      const { client, out } = ctx();
      onExit(await runRollout(client, id, { retry: !!o.retry }, out));
    });

  rollout
    .command("watch")
    .description(
      "follow the rollout live; exit 0 when every task is DONE or SKIPPED, 1 when tasks failed and nothing is left running or every waiting task waits behind a failed one. While nothing runs, says what the waiting tasks wait for",
    )
    .argument("<rolloutId>", "rollout id", rolloutId)
    .option("--timeout <seconds>", "give up after this long (exit 3)", seconds)
    .addHelpText("after", "\nExit codes: 0 succeeded, 1 failed, 2 usage, 3 timeout, 4 API or network error.")
    .action(async (id: string, o: { timeout?: number }) => {
      const { client, out } = ctx();
      onExit(await watchRollout(client, id, { ...(o.timeout ? { timeoutS: o.timeout } : {}) }, out));
    });
  return root;
}

/**
 * The API's refusals one a line (a release's files, a rollout's tasks): its message joins them with "; ",
 * and twenty of those on one line are hard to read in a CI log.
 */
export function refusals(details: unknown): string[] {
  const d = details as { files?: unknown; errors?: unknown; refused?: unknown } | undefined;
  const list = Array.isArray(d?.files) ? d.files : Array.isArray(d?.errors) ? d.errors : [];
  const lines = list.flatMap((x: unknown) => {
    const m = (x as { message?: unknown } | null)?.message;
    return typeof m === "string" ? [m] : [];
  });
  const more = typeof d?.refused === "number" ? d.refused - lines.length : 0;
  return more > 0 ? [...lines, `and ${more} more`] : lines;
}

export async function main(argv: string[]): Promise<number> {
  let code: number = Exit.OK;
  try {
    await program((c) => (code = c)).parseAsync(argv);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? Exit.OK : Exit.USAGE;
    if (e instanceof UsageError) {
      process.stderr.write(`runway: ${e.message}\n`);
      return Exit.USAGE;
    }
    if (e instanceof ApiError) {
      const lines = refusals(e.details);
      if (lines.length > 1) process.stderr.write(`runway: ${e.code}:\n${lines.map((l) => `  ${l}\n`).join("")}`);
      else process.stderr.write(`runway: ${e.code}: ${e.message}\n`);
      return Exit.ERROR;
    }
    process.stderr.write(`runway: ${(e as Error).message}\n`);
    return Exit.ERROR;
  }
}
