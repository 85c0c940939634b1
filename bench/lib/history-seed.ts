import pg from "pg";

/**
 * Seeds a long history: `rollouts` rollouts of `tasksPerRollout` tasks (two stages, 1,000 databases,
 * 70% versioned schema changes with versions ascending per database, 30% data updates) plus one large
 * rollout of `bigRollout` tasks, all finished. Final task statuses: 95% DONE, 2% FAILED, 1% CANCELED,
 * 1% SKIPPED (no run), 1% NOT_STARTED (no run); 30% of the tasks that ran needed a second attempt (the
 * first FAILED). 800 × 1,000 tasks give about 1,010,000 runs. Bulk SQL, like the gating seed: through
 * the API this would take an hour and measure the API's writes instead.
 */
export interface HistorySeed {
  rollouts: number;
  tasksPerRollout: number;
  bigRollout: number;
}

const INSTANCE = "bench-i";

export async function seedHistory(
  url: string,
  s: HistorySeed,
): Promise<{ runs: number; tasks: number; bigRolloutId: string; midRolloutId: string }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query("BEGIN");
    await c.query(`INSERT INTO project (id, title, parallel_tasks_per_rollout) VALUES ('bench', 'Bench', 10)`);
    await c.query(`INSERT INTO instance (id, title, connection_url) VALUES ($1, 'Bench', 'postgres://bench@127.0.0.1:1/x')`, [INSTANCE]);
    const total = s.rollouts + 1;
    await c.query(
      `INSERT INTO rollout (id, project_id, title, created_by, created_at)
       SELECT g, 'bench', 'rollout ' || g, 'bench', now() - ($1::int - g + 1) * interval '1 hour' FROM generate_series(1, $1::int) g`,
      [total],
    );
    await c.query(
      `INSERT INTO stage (id, rollout_id, environment, position)
       SELECT (g - 1) * 2 + p + 1, g, CASE p WHEN 0 THEN 'staging' ELSE 'prod' END, p FROM generate_series(1, $1::int) g, generate_series(0, 1) p`,
      [total],
    );
    // Task g (0-based, global): rollout g / T + 1 (the big rollout takes the tail), database g % 1000,
    // version g / 1000 + 1; a fifth of each rollout in staging. h and k are cheap per-row hashes.
    await c.query(
      `INSERT INTO task (id, rollout_id, stage_id, instance_id, database_name, type, statement, schema_version,
         schema_version_key, skipped, skip_reason, status, created_at, updated_at, rerunnable)
       SELECT g + 1, r, (r - 1) * 2 + CASE WHEN pos < n / 5 THEN 1 ELSE 2 END, $4, 'db_' || lpad((g % 1000)::text, 4, '0'),
         CASE WHEN h < 70 THEN 'DATABASE_SCHEMA_UPDATE' ELSE 'DATABASE_DATA_UPDATE' END,
         'ALTER TABLE t ADD COLUMN c' || g || ' integer',
         CASE WHEN h < 70 THEN lpad((g / 1000 + 1)::text, 6, '0') END,
         CASE WHEN h < 70 THEN 'N' || lpad(length((g / 1000 + 1)::text)::text, 3, '0') || (g / 1000 + 1)::text END,
         k = 98, CASE WHEN k = 98 THEN 'not needed' END,
         CASE WHEN k = 98 THEN 'SKIPPED' WHEN h < 70 OR k < 95 THEN 'DONE' WHEN k < 97 THEN 'FAILED' WHEN k < 98 THEN 'CANCELED' ELSE 'NOT_STARTED' END,
         now() - interval '30 days', now() - interval '29 days', true
       FROM (
         SELECT g,
           CASE WHEN g < nr * t THEN g / t + 1 ELSE nr + 1 END AS r,
           CASE WHEN g < nr * t THEN g % t ELSE g - nr * t END AS pos,
           CASE WHEN g < nr * t THEN t ELSE b END AS n,
           (g * 7919 + 13) % 100 AS h, (g * 104729 + 7) % 100 AS k
         FROM (SELECT $1::bigint AS nr, $2::bigint AS t, $3::bigint AS b) p,
           generate_series(0::bigint, $1::bigint * $2::bigint + $3::bigint - 1) g
       ) x`,
      [s.rollouts, s.tasksPerRollout, s.bigRollout, INSTANCE],
    );
    await c.query(`SELECT setval('task_id_seq', (SELECT max(id) FROM task))`);
    const runs = await c.query(
      `INSERT INTO task_run (task_id, attempt, status, rollout_id, instance_id, database_name, sequential, schema_version_key,
         rerunnable, created_at, updated_at, started_at, finished_at, created_by, owner_replica, result)
       SELECT t.id, a, CASE WHEN a = t.n THEN t.status ELSE 'FAILED' END, t.rollout_id, t.instance_id, t.database_name,
         t.type <> 'DATABASE_DATA_UPDATE', t.schema_version_key, true,
         t.at + a * interval '1 minute', t.at + a * interval '1 minute' + interval '2 seconds',
         t.at + a * interval '1 minute' + interval '1 second', t.at + a * interval '1 minute' + interval '2 seconds',
         'bench', 'replica-1',
         CASE WHEN a = t.n AND t.status = 'DONE' THEN '{"rowsAffected": 0, "durationMs": 12}'::jsonb
              WHEN a = t.n AND t.status = 'CANCELED' THEN NULL
              ELSE '{"error": {"message": "relation \\"t\\" does not exist", "code": "42P01", "position": 13}}'::jsonb END
       FROM (
         SELECT id, rollout_id, instance_id, database_name, type, schema_version_key, status,
           CASE WHEN (id * 2654435761) % 10 < 3 THEN 2 ELSE 1 END AS n, now() - interval '30 days' + id * interval '1 second' AS at
         FROM task WHERE status IN ('DONE', 'FAILED', 'CANCELED')
       ) t CROSS JOIN LATERAL generate_series(1, t.n) a
       ORDER BY t.id, a`,
    );
    await c.query("COMMIT");
    await c.query("VACUUM ANALYZE");
    const tasks = s.rollouts * s.tasksPerRollout + s.bigRollout;
    return { runs: runs.rowCount ?? 0, tasks, bigRolloutId: String(s.rollouts + 1), midRolloutId: String(Math.ceil(s.rollouts / 2)) };
  } finally {
    await c.end();
  }
}
