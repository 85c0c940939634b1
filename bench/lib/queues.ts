import pg from "pg";
import { Logger, makeWorkerUtils, run, runMigrations, type Runner, type WorkerUtils } from "graphile-worker";
import PgBoss from "pg-boss";

/**
 * graphile-worker and pg-boss set up the way their documentation shows, each with its own pools, for the
 * side-by-side runs. Both are devDependencies of bench/ only.
 */

const quietGraphile = new Logger(() => (level, message) => {
  if (level === "error") console.error(`graphile-worker: ${message}`);
});

export type JobFn = (i: number) => Promise<void>;

/**
 * A pool we own (graphile-worker accepts one): its error listener outlives the runner's, so a server
 * stopping right after a runner stopped cannot crash the benchmark with an unhandled pool error.
 */
function ownPool(url: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on("error", () => undefined);
  return pool;
}

export async function graphileStart(p: {
  url: string;
  count: number;
  concurrency: number;
  task: JobFn;
}): Promise<{ runners: Runner[]; stop(): Promise<void> }> {
  await runMigrations({ connectionString: p.url, logger: quietGraphile });
  const runners: Runner[] = [];
  const pools: pg.Pool[] = [];
  for (let i = 0; i < p.count; i++) {
    const pgPool = ownPool(p.url, p.concurrency + 2);
    pools.push(pgPool);
    runners.push(
      await run({
        pgPool,
        concurrency: p.concurrency,
        noHandleSignals: true,
        logger: quietGraphile,
        taskList: { bench: async (payload) => p.task((payload as { i: number }).i) },
      }),
    );
  }
  return {
    runners,
    stop: async () => {
      await Promise.all(runners.map((r) => r.stop()));
      await Promise.all(pools.map((pool) => pool.end()));
    },
  };
}

export async function graphileUtils(url: string): Promise<WorkerUtils> {
  const pgPool = ownPool(url, 4);
  const utils = await makeWorkerUtils({ pgPool, logger: quietGraphile });
  const release = utils.release.bind(utils);
  utils.release = async () => {
    await release();
    await pgPool.end();
  };
  return utils;
}

/** Enqueues n jobs through graphile-worker's batch function `add_jobs` (add_job per row takes ~3 ms a job here). */
export async function graphileEnqueue(url: string, n: number): Promise<void> {
  await runMigrations({ connectionString: url, logger: quietGraphile });
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(
      `SELECT count(*) FROM graphile_worker.add_jobs(ARRAY(
         SELECT ROW('bench', json_build_object('i', g), NULL, NULL, NULL, NULL, NULL, NULL)::graphile_worker.job_spec
         FROM generate_series(1, $1) g))`,
      [n],
    );
  } finally {
    await c.end();
  }
}

export async function graphileRemaining(pool: pg.Pool): Promise<number> {
  return (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM graphile_worker._private_jobs`)).rows[0]!.n;
}

const QUEUE = "bench";

/** pg-boss 10 without cron or maintenance supervision (neither plays a part in a 20k-job burst). */
export async function pgBossStart(p: {
  url: string;
  count: number;
  concurrency: number;
  task: JobFn;
}): Promise<{ bosses: PgBoss[]; stop(): Promise<void> }> {
  const bosses: PgBoss[] = [];
  for (let i = 0; i < p.count; i++) {
    const boss = new PgBoss({ connectionString: p.url, max: p.concurrency + 2, supervise: false, schedule: false });
    boss.on("error", (err) => console.error("pg-boss:", err));
    await boss.start();
    await boss.createQueue(QUEUE);
    // v10 has no per-worker concurrency: each work() call is one polling worker, so `concurrency` of them.
    for (let w = 0; w < p.concurrency; w++) {
      await boss.work<{ i: number }>(QUEUE, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async ([job]) => p.task(job!.data.i));
    }
    bosses.push(boss);
  }
  return { bosses, stop: async () => void (await Promise.all(bosses.map((b) => b.stop({ graceful: true, wait: true })))) };
}

export async function pgBossEnqueue(url: string, n: number): Promise<void> {
  const boss = new PgBoss({ connectionString: url, max: 2, supervise: false, schedule: false });
  await boss.start();
  await boss.createQueue(QUEUE);
  for (let i = 0; i < n; i += 1000) {
    await boss.insert(Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ name: QUEUE, data: { i: i + k + 1 } })));
  }
  await boss.stop({ graceful: false, wait: true });
}

export async function pgBossRemaining(pool: pg.Pool): Promise<number> {
  return (
    await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state IN ('created', 'retry', 'active')`,
      [QUEUE],
    )
  ).rows[0]!.n;
}
