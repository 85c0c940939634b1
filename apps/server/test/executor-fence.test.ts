import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PostgresExecutor } from "../src/executors/postgres.js";
import { runSessionName, targetFenceSql } from "../src/executors/session-name.js";
import { createTargetDatabase, targetServerUrl, waitFor, type TargetDatabase } from "./helpers/db.js";
import { execCtx, runOn, sessionAs } from "./helpers/runs.js";
import { runSessions } from "./helpers/target-sessions.js";

/**
 * The target fence (bug 5 of issue 10): a new owner ends only the sessions of the same installation,
 * the same run, the same database and older epochs — never a newer owner's, never another
 * installation's run that happens to have the same id, never the run's sessions on another database.
 */

let target: TargetDatabase;
let other: TargetDatabase;
let executors: PostgresExecutor[] = [];
const sessions: { end(): Promise<unknown> }[] = [];

beforeEach(async () => {
  target = await createTargetDatabase();
  other = await createTargetDatabase("other");
});
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.end()));
  await Promise.all(executors.map((e) => e.close()));
  executors = [];
  await target.drop();
  await other.drop();
});

function executor(): PostgresExecutor {
  const e = new PostgresExecutor({ statementTimeoutMs: 30_000 });
  executors.push(e);
  return e;
}

async function session(db: TargetDatabase, name: string) {
  const s = await sessionAs(db.url, name);
  sessions.push(s);
  return s;
}

const alive = async (db: TargetDatabase, pid: number) => (await db.query(`SELECT 1 FROM pg_stat_activity WHERE pid = ${pid}`)).length === 1;

describe("target fence", () => {
  it("compares epochs as numbers and ends only older ones of this installation's run on this database", async () => {
    const installationId = randomUUID();
    const runId = "4242";
    const name = (epoch: number, inst = installationId, run = runId) => runSessionName({ installationId: inst, runId: run, epoch }, "r");
    const older = [await session(target, name(2)), await session(target, name(9))];
    const kept = [
      await session(target, name(10)), // the fencing owner's own epoch (another session of it)
      await session(target, name(11)), // newer
      await session(target, name(3, randomUUID())), // another installation, same run id
      await session(target, name(3, installationId, "42")), // another run whose id is a prefix
      await session(target, name(3, installationId, "42420")),
      await session(other, name(3)), // the same run on another database
    ];
    expect(await target.query(targetFenceSql({ installationId, runId, epoch: 10 }))).toEqual([{ count: "2" }]);
    for (const s of older) expect(await s.done).toMatch(/terminating connection due to administrator command/);
    for (const s of kept) expect(await alive(target, s.pid)).toBe(true); // pg_stat_activity is server-wide
  });

  it("a zombie of an older epoch never ends the current owner's session", async () => {
    const owner = runOn(target.name, { epoch: 5, statement: "SELECT pg_sleep(1.5); CREATE TABLE epoch_test (id int)" });
    const zombie = { ...owner, epoch: 4 };
    const ownerP = executor().execute(owner, execCtx({ replicaId: "R5" }));
    await waitFor(async () => (await runSessions(target, owner.id, "wait_event = 'PgSleep'")).length > 0, {
      what: "owner's statement running",
    });
    // The zombie wakes up and sends its prefix, fence included; it then waits on the owner's ledger row.
    const zombieP = executor().execute(zombie, execCtx({ replicaId: "R4", stillOwner: async () => false }));
    const [o, z] = await Promise.all([ownerP, zombieP]);
    expect(o.status, o.message).toBe("DONE");
    expect(o.result).not.toHaveProperty("alreadyApplied");
    expect(z.result).toMatchObject({ alreadyApplied: true });
    expect(await target.query("SELECT 1 FROM pg_tables WHERE tablename = 'epoch_test'")).toHaveLength(1);
  });

  it("a new owner ends the older epoch's session of its run, which then gets RETRY, not FAILED", async () => {
    const first = runOn(target.name, { epoch: 1, statement: "CREATE TABLE taken_over (); SELECT pg_sleep(30)" });
    const firstP = executor().execute(first, execCtx({ replicaId: "R1" }));
    await waitFor(async () => (await runSessions(target, first.id, "wait_event = 'PgSleep'")).length > 0, { what: "first owner running" });
    const second = { ...first, epoch: 2, statement: "CREATE TABLE taken_over ()" };
    const o2 = await executor().execute(second, execCtx({ replicaId: "R2" }));
    expect(o2.status, o2.message).toBe("DONE");
    const o1 = await firstP;
    expect(o1.status, o1.message).toBe("RETRY");
    expect(o1.result).toMatchObject({ error: { code: "57P01" } });
  });

  it("another installation's run with the same id, on the same or another database, is untouched", async () => {
    const id = "7";
    // Installation B's run 7 (epoch 1), and installation A's own run 7 on another database.
    const runB = runOn(target.name, { id, statement: "SELECT pg_sleep(1.5); CREATE TABLE b_applied ()" });
    const runA = runOn(target.name, { id, epoch: 2, statement: "CREATE TABLE a_applied ()" });
    const runAelsewhere = { ...runA, database: other.name, epoch: 1, statement: "SELECT pg_sleep(1.5); CREATE TABLE a_elsewhere ()" };
    const pB = executor().execute(runB, execCtx({ replicaId: "B1" }));
    const pAelsewhere = executor().execute(runAelsewhere, execCtx({ replicaId: "A1" }));
    await waitFor(
      async () =>
        (await runSessions(target, id, "wait_event = 'PgSleep'")).length > 0 &&
        (await runSessions(other, id, "wait_event = 'PgSleep'")).length > 0,
      { what: "both running" },
    );
    const oA = await executor().execute(runA, execCtx({ replicaId: "A2" })); // fences "older epochs of run 7"
    expect(oA.status, oA.message).toBe("DONE");
    const [oB, oAelsewhere] = await Promise.all([pB, pAelsewhere]);
    expect(oB.status, oB.message).toBe("DONE");
    expect(oAelsewhere.status, oAelsewhere.message).toBe("DONE");
  });

  it("names fit PostgreSQL's 63 bytes with the longest ids, whatever the replica id", () => {
    const long = runSessionName({ installationId: randomUUID(), runId: "9".repeat(19), epoch: 2 ** 31 - 1 }, "replica");
    expect(long).toMatch(/^runway run 9{19} in [0-9a-f]{10} epoch 2147483647( |$)/);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(63);
    const n = runSessionName({ installationId: randomUUID(), runId: "12", epoch: 3 }, "réplica with spaces".repeat(5));
    expect(Buffer.byteLength(n)).toBeLessThanOrEqual(63);
    expect(n).toMatch(/^runway run 12 in [0-9a-f]{10} epoch 3 r_plica_with_spaces/);
  });
});

describe("the lease check sent with the statement (ownerCheckAhead)", () => {
  it("goes out before the statement is sent, and its answer decides the COMMIT in place of stillOwner", async () => {
    const events: string[] = [];
    const withAnswer = (owned: boolean) =>
      execCtx({
        stillOwner: async () => {
          events.push("stillOwner");
          return true;
        },
        ownerCheckAhead: () => {
          events.push("check sent");
          return async () => {
            // The statement returned: its session sits idle in its transaction, the ledger row not committed.
            events.push(`statement returned: ${(await target.query("SELECT 1 FROM runway_ledger")).length} committed`);
            return owned;
          };
        },
      });
    const kept = await executor().execute(runOn(target.name, { statement: "CREATE TABLE ahead_kept ()" }), withAnswer(true));
    expect(kept.status, kept.message).toBe("DONE");
    expect(await target.query("SELECT 1 FROM pg_tables WHERE tablename = 'ahead_kept'")).toHaveLength(1);
    const refused = await executor().execute(runOn(target.name, { statement: "CREATE TABLE ahead_refused ()" }), withAnswer(false));
    expect(refused.status, refused.message).toBe("RETRY");
    expect(refused.message).toMatch(/lease lost before commit; rolled back/);
    expect(await target.query("SELECT 1 FROM pg_tables WHERE tablename = 'ahead_refused'")).toEqual([]);
    expect(events).toEqual([
      // The first run on a new target finds no ledger: it creates it and sends its query again, with a check.
      "check sent",
      "check sent",
      "statement returned: 0 committed",
      "check sent",
      "statement returned: 1 committed",
    ]);
  });

  it("a run whose ledger row is there ends DONE even when the query that words the message fails", async () => {
    // The first run creates the ledger (owned by the target role); the second's task already has a row, and
    // the role may no longer read the ledger: its INSERT meets the row (23505), its message query is refused.
    const first = runOn(target.name, { statement: "SELECT 1" });
    expect((await executor().execute(first, execCtx())).status).toBe("DONE");
    const again = { ...first, id: String(Number(first.id) + 1), attempt: 2, statement: "CREATE TABLE applied_twice ()" };
    await target.query(`REVOKE SELECT ON public.runway_ledger FROM ${new URL(targetServerUrl()).username}`);
    const out = await executor().execute(again, execCtx({ ownerCheckAhead: () => async () => true }));
    expect(out.status, out.message).toBe("DONE");
    expect(out.result).toMatchObject({ alreadyApplied: true });
    expect(out.message).toMatch(/not applied again/);
    expect(await target.query("SELECT 1 FROM pg_tables WHERE tablename = 'applied_twice'")).toEqual([]);
  });
});
