import { afterEach, describe, expect, it } from "vitest";
import { Kysely, PostgresDialect } from "kysely";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { createPool, type Db } from "../src/store/db.js";
import type { DB } from "../src/store/schema.js";
import { PENDING_PASS_LOCK } from "../src/store/gating.js";
import { advisoryLockHeld, useTestDatabase } from "./helpers/db.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

/**
 * A live pass whose promote leaves it nothing else to write sends that promote with its COMMIT, one round trip
 * less on the pickup path (pass-decisions.ts, decideAndPromote's `last`; store/begin-prepared.ts, preparedCommit).
 */
const t = useTestDatabase();
const clock = { now: () => new Date() };
const closing: Db[] = [];
afterEach(async () => {
  for (const db of closing.splice(0)) await db.destroy();
});

/** Pass sessions (the full pass's readers among them) whose statements are recorded, and a replica's pending scheduler on it, past its first (full) pass. */
async function scheduler() {
  const sent: string[] = [];
  const db = new Kysely<DB>({
    dialect: new PostgresDialect({ pool: createPool(t.url, 4, "pass-commit test") }),
    log: (e) => void (e.level === "query" && sent.push(e.query.sql.trimStart().split("\n")[0]!)),
  });
  closing.push(db);
  const s = new PendingScheduler({ db, clock, replicaId: "p", fullPassIntervalMs: 1e12 });
  await s.runOnce();
  sent.length = 0;
  return { s, sent };
}

const statuses = async () => (await t.db.selectFrom("task_run").select("status").orderBy("id").execute()).map((r) => r.status);

/** The scheduler's pool's sessions, and how many of them sit in a transaction. */
async function sessions(): Promise<{ open: number; inTransaction: number }> {
  const { rows } = await t.pool.query<{ open: number; in_tx: number }>(
    `SELECT count(*)::int AS open, (count(*) FILTER (WHERE state LIKE 'idle in transaction%'))::int AS in_tx
       FROM pg_stat_activity WHERE application_name = 'pass-commit test'`,
  );
  return { open: rows[0]!.open, inTransaction: rows[0]!.in_tx };
}

describe("a live pass's last statement carries its COMMIT", () => {
  it("a run on an idle database: lock, live read, and the promote with COMMIT; nothing open after", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const { s, sent } = await scheduler();
    await seedRollout(t.db, projectId, [task(instanceId, "a")]);
    expect(await s.runOnce()).toMatchObject({ kind: "live", promoted: 1 });
    expect(await statuses()).toEqual(["AVAILABLE"]);
    expect(sent).toHaveLength(3);
    expect(sent[2]).toMatch(/^\/\* prepared\+commit \*\//);
    expect(await advisoryLockHeld(t.pool, PENDING_PASS_LOCK)).toBe(false);
    expect(await sessions()).toMatchObject({ open: expect.any(Number), inTransaction: 0 });
    expect((await sessions()).open).toBeGreaterThan(0);
  });

  it("a pass that also records a cause (a second run on the busy database) promotes, writes the cause, then commits", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const { s, sent } = await scheduler();
    await seedRollout(t.db, projectId, [task(instanceId, "a"), task(instanceId, "a")]);
    expect(await s.runOnce()).toMatchObject({ kind: "live", promoted: 1, causesWritten: 1 });
    expect(await statuses()).toEqual(["AVAILABLE", "PENDING"]);
    expect(sent.some((x) => x.includes("prepared+commit"))).toBe(false);
    expect(sent.at(-1)).toBe("COMMIT");
    expect(await advisoryLockHeld(t.pool, PENDING_PASS_LOCK)).toBe(false);
  });
});
