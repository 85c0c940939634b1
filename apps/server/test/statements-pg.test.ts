import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskType } from "@runway/shared";
import { loadStatementParser, parseStatements } from "../src/domain/statements.js";
import { PostgresExecutor } from "../src/executors/postgres.js";
import type { ExecContext } from "../src/executors/types.js";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { StoreError } from "../src/store/errors.js";
import { taskRunsClaim } from "../src/store/runs.js";
import { createTargetDatabase, createTestDatabase, serverUrl, type TargetDatabase, type TestDatabase } from "./helpers/db.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";
import { STATEMENT_CASES, STATEMENT_CASES_SETUP } from "./helpers/statement-cases.js";

// The parser loads on first need (domain/statements.ts); these tests call it synchronously.
await loadStatementParser();

let t: TestDatabase;
let target: TargetDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  target = await createTargetDatabase("stmt");
});
afterAll(async () => {
  await t?.close();
  await target?.drop();
});

describe("statement classification against PostgreSQL itself", () => {
  it("inside BEGIN, exactly the statements classified NO_TRANSACTION fail with 25001 (active_sql_transaction)", async () => {
    const c = new pg.Client({ connectionString: target.url });
    await c.connect();
    try {
      await c.query(STATEMENT_CASES_SETUP);
      const disagreements: string[] = [];
      for (const { sql, kind, conservative } of STATEMENT_CASES) {
        if (kind === "TRANSACTION_CONTROL" || conservative) continue;
        expect(parseStatements(sql)[0]!.kind).toBe(kind);
        await c.query("BEGIN");
        const code = await c.query(sql).then(
          () => null,
          (e: { code?: string }) => e.code ?? "?",
        );
        await c.query("ROLLBACK");
        if ((code === "25001") !== (kind === "NO_TRANSACTION")) disagreements.push(`${sql}: ${kind} but PostgreSQL said ${code ?? "ok"}`);
      }
      expect(disagreements).toEqual([]);
    } finally {
      await c.end();
    }
  });
});

describe("regression (issue 10, bug 9): a statement that contains COMMIT", () => {
  it("is refused when the rollout is created, naming the task and the statement; nothing is created", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { id: "commit", instanceUrl: serverUrl() });
    const rollouts = async () => (await t.db.selectFrom("rollout").select("id").execute()).length;
    const before = await rollouts();
    for (const [statement, refused] of [
      ["BEGIN; CREATE TABLE part_a (id int); COMMIT; CREATE TABLE part_b (id int REFERENCES nowhere (id))", "BEGIN"],
      ["CREATE TABLE zombie_write (id int); COMMIT", "COMMIT"],
      ["CREATE TABLE s (id int); SAVEPOINT a; INSERT INTO s VALUES (1); RELEASE a", "SAVEPOINT a"],
    ] as const) {
      const err = await seedRollout(t.db, projectId, [
        task(instanceId, "ok"),
        task(instanceId, target.name, { statement, type: TaskType.DATABASE_DATA_UPDATE }),
      ]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreError);
      expect(err).toMatchObject({
        code: "INVALID_ARGUMENT",
        details: {
          errors: [{ task: "stages/0/tasks/1", path: "stages/0/tasks/1/statement", problem: "TRANSACTION_CONTROL", statement: refused }],
        },
      });
      expect((err as Error).message).toMatch(
        new RegExp(
          `^task stages/0/tasks/1 \\(database "${target.name}"\\): statement "${refused}" at position \\d+ is transaction control`,
        ),
      );
    }
    expect(await rollouts()).toBe(before);
    expect(await target.query("SELECT tablename FROM pg_tables WHERE tablename IN ('part_a', 'part_b', 'zombie_write')")).toEqual([]);
  });

  it("a statement PostgreSQL refuses in a transaction block runs outside one, as decided at creation", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { id: "cic", instanceUrl: serverUrl() });
    await target.query("CREATE TABLE cic_t (a int)");
    const { taskIds } = await seedRollout(t.db, projectId, [
      task(instanceId, target.name, { statement: "-- concurrently\nCREATE INDEX CONCURRENTLY cic_i ON cic_t (a);" }),
    ]);
    expect((await t.db.selectFrom("task").select("rerunnable").where("id", "=", taskIds[0]!).executeTakeFirstOrThrow()).rerunnable).toBe(
      false,
    );
    await new PendingScheduler({ db: t.db, clock: { now: () => new Date() }, replicaId: "p", fullPassIntervalMs: 1e12 }).runOnce();
    const [run] = await taskRunsClaim(t.db, { replicaId: "A", limit: 1, leaseTtlMs: 60_000, now: new Date() });
    const exec = new PostgresExecutor({ statementTimeoutMs: 60_000 });
    const ctx: ExecContext = {
      signal: new AbortController().signal,
      replicaId: "A",
      log: async () => undefined,
      stillOwner: async () => true,
    };
    try {
      const out = await exec.execute(run!, ctx);
      expect(out.status, out.message).toBe("DONE");
    } finally {
      await exec.close();
    }
    expect(await target.query("SELECT indexname FROM pg_indexes WHERE indexname = 'cic_i'")).toEqual([{ indexname: "cic_i" }]);
  });
});
