import pg from "pg";
import { withDatabase } from "@runway/server/db";
import type { JournalRow, LedgerRow } from "./facts.js";
import { TARGET_SETUP } from "./statements.js";

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Fresh target databases with the journal, the tables the tasks change, and the journal functions. */
/** Databases owned by the target role (`targetUrl`), their objects too: the tasks run as that role. */
export async function setupTargets(serverUrl: string, targetUrl: string, databases: string[]): Promise<void> {
  const owner = new URL(targetUrl).username;
  await withClient(serverUrl, async (c) => {
    const old = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'chaos\\_%'`);
    for (const { datname } of old.rows) await c.query(`DROP DATABASE ${c.escapeIdentifier(datname)} WITH (FORCE)`);
    for (const db of databases) await c.query(`CREATE DATABASE ${c.escapeIdentifier(db)} OWNER ${c.escapeIdentifier(owner)}`);
  });
  for (const db of databases) await withClient(withDatabase(targetUrl, db), (c) => c.query(TARGET_SETUP));
}

export interface TargetRead {
  journal: JournalRow[];
  ledger: LedgerRow[];
  dataRows: Map<string, number>;
  schemaApplied: Set<string>;
  databases: Set<string>;
  overlapsSeen: number;
  cicOverlapsSeen: number;
}

/** Reads every target's journal, ledger and changed tables. */
export async function readTargets(serverUrl: string, databases: string[]): Promise<TargetRead> {
  const out: TargetRead = {
    journal: [],
    ledger: [],
    dataRows: new Map(),
    schemaApplied: new Set(),
    databases: new Set(),
    overlapsSeen: 0,
    cicOverlapsSeen: 0,
  };
  await withClient(serverUrl, async (c) => {
    const res = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'chaos\\_%'`);
    for (const r of res.rows) out.databases.add(r.datname);
  });
  for (const db of databases) {
    await withClient(withDatabase(serverUrl, db), async (c) => {
      const j =
        await c.query(`SELECT marker, task_id, attempt, run_id, epoch, replica, schema_version, started_at, committed_at, pid, open_beside
        FROM chaos_journal ORDER BY id`);
      for (const r of j.rows) {
        out.journal.push({
          db,
          marker: r.marker,
          taskId: r.task_id,
          attempt: r.attempt,
          runId: r.run_id,
          epoch: r.epoch,
          replica: r.replica,
          schemaVersion: r.schema_version,
          startedAt: r.started_at,
          committedAt: r.committed_at,
          pid: r.pid,
          overlaps: r.open_beside,
        });
      }
      const seen = await c.query(`SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM chaos_overlap_seen`);
      out.overlapsSeen += Number(seen.rows[0].n);
      const cic = await c.query(`SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM chaos_cic_overlap_seen`);
      out.cicOverlapsSeen += Number(cic.rows[0].n);
      const hasLedger = (await c.query(`SELECT to_regclass('public.runway_ledger') IS NOT NULL AS ok`)).rows[0].ok as boolean;
      if (hasLedger) {
        const l = await c.query(`SELECT task_id, attempt, run_id, schema_version FROM runway_ledger`);
        for (const r of l.rows)
          out.ledger.push({ db, taskId: r.task_id, attempt: r.attempt, runId: r.run_id, schemaVersion: r.schema_version });
      }
      const d = await c.query<{ marker: string; n: string }>(`SELECT marker, count(*) AS n FROM chaos_data GROUP BY marker`);
      for (const r of d.rows) out.dataRows.set(r.marker, Number(r.n));
      const cols = await c.query<{ name: string }>(`
        SELECT substr(attname, 3) AS name FROM pg_attribute
        WHERE attrelid = 'chaos_schema'::regclass AND attname LIKE 'c\\_t%' AND NOT attisdropped
        UNION ALL SELECT substr(relname, 11) FROM pg_class WHERE relname LIKE 'chaos\\_sdl\\_t%' AND relkind = 'r'`);
      for (const r of cols.rows) out.schemaApplied.add(r.name);
    });
  }
  return out;
}
