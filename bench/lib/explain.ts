import type pg from "pg";

export interface Captured {
  sql: string;
  parameters: unknown[];
}

export interface Explained {
  sql: string;
  executionMs: number;
  /** Relations of more than BIG_TABLE rows read by a sequential scan. */
  seqScans: string[];
  plan: string;
}

/** A table smaller than this is read whole faster than through an index; its seq scans are not flagged. */
const BIG_TABLE = 10_000;

/**
 * EXPLAIN (ANALYZE, BUFFERS) of every captured read, with its own parameters. Writes, NOTIFYs and lock
 * calls are skipped: ANALYZE would execute them.
 */
export async function explainAll(pool: pg.Pool, captured: Captured[]): Promise<Explained[]> {
  const sizes = new Map(
    (
      await pool.query<{ relname: string; n: number }>(
        `SELECT relname, reltuples::bigint::float8 AS n FROM pg_class WHERE relkind IN ('r', 'p')`,
      )
    ).rows.map((r) => [r.relname, r.n]),
  );
  const out: Explained[] = [];
  for (const q of captured) {
    const sql = q.sql.trim().replace(/\s+/g, " ");
    if (!/^(select|with)\b/i.test(sql) || /pg_notify|pg_try_advisory|\b(update|insert|delete)\b|for update/i.test(sql)) continue;
    const { rows } = await pool.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS) ${q.sql}`, q.parameters);
    const plan = rows.map((r) => r["QUERY PLAN"]).join("\n");
    const seqScans = [...plan.matchAll(/Seq Scan on (\w+)/g)].map((m) => m[1]!).filter((rel) => (sizes.get(rel) ?? 0) > BIG_TABLE);
    const executionMs = Number(/Execution Time: ([\d.]+) ms/.exec(plan)?.[1] ?? NaN);
    out.push({ sql, executionMs, seqScans: [...new Set(seqScans)], plan });
  }
  return out;
}
