import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "@runway/server/db";
import { machineInfo, median, runMain, startBenchPg, writeResult } from "./lib/pg.js";
import { sleep, until } from "./lib/stats.js";

/**
 * `pnpm bench` step "startup" (issue 20): how long a replica takes from process start to a 200 from
 * /readyz against an external, already migrated PostgreSQL, and how much memory an idle replica holds —
 * the compiled server (`node apps/server/dist/main.js`, what `pnpm start` and a deployed folder run)
 * against the sources through tsx (what `pnpm start` ran before). RSS is summed over the process tree
 * (tsx runs the server in a child process). Builds the server first when it is missing.
 *
 * STARTUP_BEFORE_DIST=<dist folder> adds that build as a variant (e.g. one built from an older commit, to
 * compare before and after); STARTUP_VARIANTS=compiled,before picks which run (default: all available).
 * Every variant gets the same RUNWAY_SECRET_KEY, so builds that would find different key files share one
 * database.
 */

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const SERVER = path.join(ROOT, "apps/server");
const TRIALS = Number(process.env.STARTUP_TRIALS ?? 5);
const IDLE_MS = Number(process.env.STARTUP_IDLE_MS ?? 30_000);
const BEFORE_DIST = process.env.STARTUP_BEFORE_DIST;
const SECRET_KEY = Buffer.alloc(32, 7).toString("base64");

const VARIANTS: Record<string, { label: string; argv: string[] }> = {
  compiled: { label: "compiled: node dist/main.js", argv: [process.execPath, path.join(SERVER, "dist/main.js")] },
  ...(BEFORE_DIST
    ? {
        before: {
          label: `compiled, before: ${process.env.STARTUP_BEFORE_LABEL ?? BEFORE_DIST}`,
          argv: [process.execPath, path.join(BEFORE_DIST, "main.js")],
        },
      }
    : {}),
  tsx: { label: "sources: tsx src/main.ts", argv: [path.join(SERVER, "node_modules/.bin/tsx"), path.join(SERVER, "src/main.ts")] },
};
const CHOSEN = (process.env.STARTUP_VARIANTS?.split(",") ?? Object.keys(VARIANTS)).filter((v) => v in VARIANTS);

/** The process and its descendants (Linux /proc). */
function tree(pid: number): number[] {
  const out = [pid];
  for (const tid of safeList(`/proc/${pid}/task`)) {
    const kids = safeRead(`/proc/${pid}/task/${tid}/children`).trim();
    for (const k of kids ? kids.split(/\s+/) : []) out.push(...tree(Number(k)));
  }
  return out;
}
const safeList = (p: string) => (existsSync(p) ? readdirSync(p) : []);
const safeRead = (p: string) => {
  try {
    return readFileSync(p, "utf8");
  } catch {
    return "";
  }
};
const rssMiB = (pids: number[]) =>
  pids.reduce((sum, p) => sum + Number(/VmRSS:\s+(\d+)/.exec(safeRead(`/proc/${p}/status`))?.[1] ?? 0), 0) / 1024;

async function trial(variant: string, databaseUrl: string, measureIdle: boolean) {
  const port = await freePort();
  const [cmd, ...args] = VARIANTS[variant]!.argv;
  const t0 = performance.now();
  const child: ChildProcess = spawn(cmd!, args, {
    cwd: SERVER,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      RUNWAY_DEMO: "0",
      LOG_LEVEL: "warn",
      RUNWAY_ADMIN_PASSWORD: "bench",
      RUNWAY_SECRET_KEY: SECRET_KEY,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  try {
    const ready = await until(
      async () => {
        try {
          return (await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) })).ok;
        } catch {
          return false;
        }
      },
      60_000,
      10,
    );
    if (!ready) throw new Error(`${variant}: no 200 from /readyz within 60 s`);
    const readyMs = performance.now() - t0;
    let idleRssMiB: number | null = null;
    let processes = 0;
    if (measureIdle) {
      // Idle: its loops tick (heartbeat, polls), nothing to run. The peak of a few samples.
      await sleep(IDLE_MS);
      const samples: number[] = [];
      for (let i = 0; i < 5; i++, await sleep(500)) samples.push(rssMiB(tree(child.pid!)));
      idleRssMiB = Math.max(...samples);
      processes = tree(child.pid!).length;
    }
    return { readyMs, idleRssMiB, processes };
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
}

runMain(async () => {
  // The compiled server is what is measured: build it when it is missing (what `pnpm start` would do).
  if (!existsSync(path.join(SERVER, "dist/main.js"))) {
    const r = spawnSync("pnpm", ["build"], { cwd: ROOT, stdio: "inherit" });
    if (r.status !== 0) throw new Error("pnpm build failed");
  }
  const pg = await startBenchPg();
  try {
    const url = await pg.freshDatabase("runway_startup");
    const rows = [];
    for (const variant of CHOSEN) {
      await trial(variant, url, false); // warm the OS file cache, as a restarted replica finds it
      const runs = [];
      for (let i = 0; i < TRIALS; i++) runs.push(await trial(variant, url, i === 0));
      rows.push({
        variant,
        label: VARIANTS[variant]!.label,
        readyMsMedian: Math.round(median(runs.map((r) => r.readyMs))),
        readyMsAll: runs.map((r) => Math.round(r.readyMs)),
        idleRssMiB: Math.round(runs[0]!.idleRssMiB!),
        processes: runs[0]!.processes,
      });
    }
    console.log("\nstart to /readyz (external PostgreSQL, migrated) and idle memory\n");
    console.log("| variant | start → /readyz, median | all trials (ms) | idle RSS | processes |");
    console.log("| --- | --- | --- | --- | --- |");
    for (const r of rows)
      console.log(`| ${r.label} | ${r.readyMsMedian} ms | ${r.readyMsAll.join(", ")} | ${r.idleRssMiB} MiB | ${r.processes} |`);
    const compiled = rows.find((r) => r.variant === "compiled")!;
    const targets = { readyMs: 1000, idleRssMiB: 120 };
    const file = await writeResult("startup", {
      machine: await machineInfo(),
      load: os.loadavg(),
      trials: TRIALS,
      idleMs: IDLE_MS,
      rows,
      targets,
      met: { readyMs: compiled.readyMsMedian <= targets.readyMs, idleRssMiB: compiled.idleRssMiB <= targets.idleRssMiB },
    });
    console.log(`\nwritten to ${file}`);
  } finally {
    await pg.stop();
  }
});
