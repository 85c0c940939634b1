import os from "node:os";
import { sql } from "kysely";
import type { Db } from "./db.js";

/** `slots`: the replica's executor slots (RUNWAY_CONCURRENCY), shown by GET /replicas; null when unknown. */
export async function replicaRegister(db: Db, p: { replicaId: string; now: Date; slots?: number }): Promise<void> {
  await sql`
    INSERT INTO replica (id, started_at, heartbeat_at, hostname, pid, executor_slots)
    VALUES (${p.replicaId}, ${p.now}, ${p.now}, ${os.hostname()}, ${process.pid}, ${p.slots ?? null}::int)
    ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, stopping = false, executor_slots = excluded.executor_slots`.execute(
    db,
  );
}

export async function replicaHeartbeat(db: Db, p: { replicaId: string; now: Date; stopping?: boolean; slots?: number }): Promise<void> {
  await sql`
    INSERT INTO replica (id, started_at, heartbeat_at, hostname, pid, stopping, executor_slots)
    VALUES (${p.replicaId}, ${p.now}, ${p.now}, ${os.hostname()}, ${process.pid}, ${p.stopping ?? false}, ${p.slots ?? null}::int)
    ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, stopping = excluded.stopping,
      executor_slots = coalesce(excluded.executor_slots, replica.executor_slots)`.execute(db);
}

export interface ReplicaRow {
  id: string;
  startedAt: Date;
  heartbeatAt: Date;
  stopping: boolean;
  slots: number | null;
  busy: number;
}

/**
 * The live replicas with their executor slots and the RUNNING runs each owns, in one query: the count per
 * replica reads the partial index of RUNNING runs by owner (task_run_owner_idx), never the runs themselves.
 */
export async function replicasCapacity(db: Db, p: { now: Date; withinMs: number }): Promise<ReplicaRow[]> {
  const { rows } = await sql<{
    id: string;
    started_at: Date;
    heartbeat_at: Date;
    stopping: boolean;
    executor_slots: number | null;
    busy: number;
  }>`
    SELECT r.id, r.started_at, r.heartbeat_at, r.stopping, r.executor_slots,
      -- Runs it claimed ahead of a free slot (RUNWAY_CLAIM_AHEAD) are RUNNING too: busy counts at most its slots.
      least((SELECT count(*)::int FROM task_run t WHERE t.owner_replica = r.id AND t.status = 'RUNNING'), r.executor_slots) AS busy
    FROM replica r
    WHERE r.heartbeat_at > ${p.now}::timestamptz - make_interval(secs => ${p.withinMs / 1000}) ORDER BY r.id`.execute(db);
  return rows.map((r) => ({
    id: r.id,
    startedAt: r.started_at,
    heartbeatAt: r.heartbeat_at,
    stopping: r.stopping,
    slots: r.executor_slots,
    busy: r.busy,
  }));
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
