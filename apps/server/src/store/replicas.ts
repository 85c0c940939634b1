import os from "node:os";
import { sql } from "kysely";
import type { Db } from "./db.js";

export async function replicaRegister(db: Db, p: { replicaId: string; now: Date }): Promise<void> {
  await sql`
    INSERT INTO replica (id, started_at, heartbeat_at, hostname, pid)
    VALUES (${p.replicaId}, ${p.now}, ${p.now}, ${os.hostname()}, ${process.pid})
    ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, stopping = false`.execute(db);
}

export async function replicaHeartbeat(db: Db, p: { replicaId: string; now: Date; stopping?: boolean }): Promise<void> {
  await sql`
    INSERT INTO replica (id, started_at, heartbeat_at, hostname, pid, stopping)
    VALUES (${p.replicaId}, ${p.now}, ${p.now}, ${os.hostname()}, ${process.pid}, ${p.stopping ?? false})
    ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, stopping = excluded.stopping`.execute(db);
}

/** Replicas whose heartbeat is younger than `withinMs`. */
export async function replicasLive(
  db: Db,
  p: { now: Date; withinMs: number },
): Promise<{ id: string; heartbeatAt: Date; stopping: boolean }[]> {
  const { rows } = await sql<{ id: string; heartbeat_at: Date; stopping: boolean }>`
    SELECT id, heartbeat_at, stopping FROM replica
    WHERE heartbeat_at > ${p.now}::timestamptz - make_interval(secs => ${p.withinMs / 1000}) ORDER BY id`.execute(db);
  return rows.map((r) => ({ id: r.id, heartbeatAt: r.heartbeat_at, stopping: r.stopping }));
}

/** Forgets replicas silent for longer than `olderThanMs` (their runs were swept long before). */
export async function replicasPrune(db: Db, p: { now: Date; olderThanMs: number }): Promise<void> {
  await sql`DELETE FROM replica WHERE heartbeat_at < ${p.now}::timestamptz - make_interval(secs => ${p.olderThanMs / 1000})`.execute(db);
}
