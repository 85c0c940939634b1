import { describe, expect, it } from "vitest";
import { sql } from "kysely";
import { ledgerChecksum } from "../src/executors/ledger.js";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { RunningScheduler } from "../src/scheduler/running-scheduler.js";
import { ledgerSnapshotsGet, ledgerSnapshotsPut } from "../src/store/ledger-snapshots.js";
import { taskRunFinish, taskRunsClaim } from "../src/store/runs.js";
import { waitFor, useTestDatabase } from "./helpers/db.js";
import { DeferredExecutor } from "./helpers/executors.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

/**
 * A versioned change Runway applied goes into its database's ledger snapshot in the statement that writes
 * the run DONE (no second statement per outcome): where a snapshot exists, never for a write the fence
 * refused, and not for FAILED runs.
 */
const t = useTestDatabase();

const clock = { now: () => new Date() };
const row = (v: string | null, c: string) => ({ schemaVersion: v, checksum: c });

describe("the finish statement and the ledger snapshots", () => {
  it("a DONE run's change is in its database's snapshot when the run reads DONE; no snapshot is made, FAILED adds nothing", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const a = { instanceId, database: "tenant_a" };
    const b = { instanceId, database: "tenant_b" };
    const before = new Date(Date.now() - 60_000);
    await ledgerSnapshotsPut(t.db, [{ ...a, rows: [row("1", "c1")], readAt: before }], before);
    await seedRollout(t.db, projectId, [
      task(instanceId, "tenant_a", { schemaVersion: "2", statement: "CREATE TABLE t2 (id int)" }),
      task(instanceId, "tenant_b", { schemaVersion: "1", statement: "CREATE TABLE t1 (id int)" }),
      task(instanceId, "tenant_c", { statement: "SELECT 1" }),
    ]);
    await new PendingScheduler({ db: t.db, clock, replicaId: "p", fullPassIntervalMs: 1e9 }).runOnce();
    const exec = new DeferredExecutor();
    const rs = new RunningScheduler({ db: t.db, clock, replicaId: "r", concurrency: 3, leaseTtlMs: 60_000, executorFor: () => exec });
    expect(await rs.runOnce()).toBe(3);
    const runOf = (db: string) => exec.started.find((r) => r.database === db)!;
    exec.finish(runOf("tenant_a").id);
    exec.finish(runOf("tenant_b").id);
    exec.finish(runOf("tenant_c").id, { status: "FAILED", result: {}, message: "no" });
    await waitFor(async () => rs.activeCount === 0, { what: "outcomes written" });

    const statuses = await t.db.selectFrom("task_run").select(["database_name", "status"]).orderBy("database_name").execute();
    expect(statuses.map((s) => s.status)).toEqual(["DONE", "DONE", "FAILED"]);
    const snaps = await ledgerSnapshotsGet(t.db, [a, b]);
    expect(snaps.has(`${instanceId}\0tenant_b`)).toBe(false);
    const sa = snaps.get(`${instanceId}\0tenant_a`)!;
    expect(sa.rows).toEqual([row("1", "c1"), row("2", ledgerChecksum("CREATE TABLE t2 (id int)"))]);
    // The read time stays: the age still says when the target itself was last read.
    expect(sa.readAt).toEqual(before);
  });

  it("a finish the fence refuses (another owner took the run over) appends nothing; the owner's write does, once", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    const a = { instanceId, database: "tenant_a" };
    const before = new Date(Date.now() - 60_000);
    await ledgerSnapshotsPut(t.db, [{ ...a, rows: [], readAt: before }], before);
    await seedRollout(t.db, projectId, [task(instanceId, "tenant_a", { schemaVersion: "7", statement: "SELECT 7" })]);
    await new PendingScheduler({ db: t.db, clock, replicaId: "p", fullPassIntervalMs: 1e9 }).runOnce();
    const now = new Date();
    const [run] = await taskRunsClaim(t.db, { replicaId: "A", limit: 1, leaseTtlMs: 60_000, now });
    // B takes the run over (a new epoch): A's late DONE must not write, nor append.
    await sql`UPDATE task_run SET owner_replica = 'B', lease_epoch = lease_epoch + 1 WHERE id = ${run!.id}`.execute(t.db);
    const applied = { schemaVersion: "7", checksum: ledgerChecksum("SELECT 7") };
    const finish = { runId: run!.id, status: "DONE" as const, result: {}, message: "ok", applied, now };
    expect(await taskRunFinish(t.db, { ...finish, replicaId: "A", epoch: run!.epoch })).toBe(false);
    expect((await ledgerSnapshotsGet(t.db, [a])).get(`${instanceId}\0tenant_a`)!.rows).toEqual([]);
    expect(await taskRunFinish(t.db, { ...finish, replicaId: "B", epoch: run!.epoch + 1 })).toBe(true);
    expect((await ledgerSnapshotsGet(t.db, [a])).get(`${instanceId}\0tenant_a`)!.rows).toEqual([row("7", applied.checksum)]);
  });
});
