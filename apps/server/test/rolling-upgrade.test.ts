import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { versionSortKey } from "@runway/shared";
import { MIGRATIONS_DIR } from "../src/db/migrate.js";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { taskRunFinish, taskRunsClaim } from "../src/store/runs.js";
import { rolloutCreate } from "../src/store/rollouts.js";
import { tasksRun } from "../src/store/task-actions.js";
import { createTestDatabase, type TestDatabase } from "./helpers/db.js";
import { seedProject, task } from "./helpers/fixtures.js";

/**
 * Every migration must be safe while replicas of the previous release still run (docs/upgrading.md).
 * These run the previous releases' own writes, verbatim, against the schema after every migration.
 */

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.close();
});

/** isRerunnable() of the release before 0004 (its executors/statement-kind.ts), which computed task_run.rerunnable in code. */
const PRE_0004_NON_TRANSACTIONAL = [
  /\bCREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\b/i,
  /\bDROP\s+INDEX\s+CONCURRENTLY\b/i,
  /\bREINDEX\b[^;]*\bCONCURRENTLY\b/i,
  /\bDETACH\s+PARTITION\b[^;]*\bCONCURRENTLY\b/i,
  /^\s*VACUUM\b/im,
  /\bCREATE\s+DATABASE\b/i,
  /\bDROP\s+DATABASE\b/i,
  /\bALTER\s+SYSTEM\b/i,
  /\bCREATE\s+TABLESPACE\b/i,
];
const pre0004Rerunnable = (type: string, statement: string) =>
  type === "DATABASE_CREATE" || !PRE_0004_NON_TRANSACTIONAL.some((re) => re.test(statement));

describe("regression (issue 10, bug 12): the release before 0004 (4d69534) against this schema", () => {
  it("creates rollouts and runs with its own statements; this release schedules and claims them as that release decided", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { id: "prev" });
    const now = new Date();
    const tasks = [
      { database: "a", type: "DATABASE_SCHEMA_UPDATE", statement: "CREATE TABLE x (id int)", version: "0001" },
      { database: "b", type: "DATABASE_SCHEMA_UPDATE", statement: "CREATE INDEX CONCURRENTLY i ON x (id)", version: null },
      { database: "c", type: "DATABASE_DATA_UPDATE", statement: "VACUUM x", version: null },
      { database: "d", type: "DATABASE_CREATE", statement: "", version: null },
    ];
    // rolloutCreate as of 4d69534: the task INSERT names no rerunnable column.
    const rollout = (
      await t.db
        .insertInto("rollout")
        .values({ project_id: projectId, title: "prev", created_by: "old", created_at: now })
        .returning("id")
        .executeTakeFirstOrThrow()
    ).id;
    const { rows: stages } = await sql<{ id: string }>`
      INSERT INTO stage (rollout_id, environment, position)
      SELECT ${rollout}, e, p - 1 FROM unnest(${["e"]}::text[]) WITH ORDINALITY AS x(e, p) ORDER BY p RETURNING id, position`.execute(t.db);
    const versions = tasks.map((x) => x.version);
    await sql`
      WITH t AS (
        INSERT INTO task (rollout_id, stage_id, instance_id, database_name, type, statement, schema_version,
          schema_version_key, created_at, updated_at)
        SELECT ${rollout}, s, i, d, ty, st, v, k, ${now}, ${now}
        FROM unnest(${tasks.map(() => stages[0]!.id)}::bigint[], ${tasks.map(() => instanceId)}::text[],
          ${tasks.map((x) => x.database)}::text[], ${tasks.map((x) => x.type)}::text[],
          ${tasks.map((x) => x.statement)}::text[], ${versions}::text[],
          ${versions.map((v) => (v === null ? null : versionSortKey(v)))}::text[]) WITH ORDINALITY AS x(s, i, d, ty, st, v, k, o)
        ORDER BY o
        RETURNING instance_id, database_name, schema_version_key
      )
      INSERT INTO gating_dirty_database (instance_id, database_name, version_from)
      SELECT instance_id, database_name, min(schema_version_key) FROM t WHERE schema_version_key IS NOT NULL
      GROUP BY 1, 2`.execute(t.db);
    const created = await t.db
      .selectFrom("task")
      .select(["id", "type", "statement", "rerunnable"])
      .where("rollout_id", "=", rollout)
      .orderBy("id")
      .execute();
    // The trigger of 0005 decided as that release does.
    expect(created.map((x) => x.rerunnable)).toEqual(created.map((x) => pre0004Rerunnable(x.type, x.statement)));
    expect(created.map((x) => x.rerunnable)).toEqual([true, false, false, true]);

    // tasksRun as of 4d69534: rerunnable computed in code, written on the run.
    const { rows: runs } = await sql<{ id: string; task_id: string }>`
      WITH n AS (
        SELECT * FROM unnest(${created.map((x) => x.id)}::bigint[], ${created.map((x) => pre0004Rerunnable(x.type, x.statement))}::boolean[]) AS n(task_id, rerunnable)
      ), r AS (
        INSERT INTO task_run (task_id, attempt, status, rollout_id, instance_id, database_name, sequential,
          schema_version_key, rerunnable, run_at, created_by, created_at, updated_at)
        SELECT t.id, coalesce((SELECT max(attempt) FROM task_run x WHERE x.task_id = t.id), 0) + 1, 'PENDING',
          t.rollout_id, t.instance_id, t.database_name, t.type <> 'DATABASE_DATA_UPDATE', t.schema_version_key,
          n.rerunnable, ${null}::timestamptz, ${"old"}, ${now}, ${now}
        FROM n JOIN task t ON t.id = n.task_id ORDER BY t.id
        RETURNING id, task_id
      ), s AS (
        UPDATE task SET status = 'PENDING', updated_at = ${now} FROM r WHERE task.id = r.task_id
      ), g AS (
        INSERT INTO gating_dirty_run (run_id) SELECT id FROM r
      ), l AS (
        INSERT INTO task_run_log (task_run_id, at, type, replica_id, payload)
        SELECT r.id, ${now}, 'STATUS', NULL, jsonb_build_object('status', 'PENDING', 'message', 'created by old', 'runAt', NULL::timestamptz) FROM r
      )
      SELECT id, task_id FROM r`.execute(t.db);
    expect(runs).toHaveLength(4);

    // This release schedules and claims them; what the executor reads matches what that release decided.
    await new PendingScheduler({ db: t.db, clock: { now: () => new Date() }, replicaId: "new", fullPassIntervalMs: 1e12 }).runOnce();
    const claimed = await taskRunsClaim(t.db, { replicaId: "new", limit: 10, leaseTtlMs: 60_000, now: new Date() });
    expect(claimed.map((r) => [r.database, r.rerunnable]).sort()).toEqual([
      ["a", true],
      ["b", false],
      ["c", false],
      ["d", true],
    ]);
  });

  it("a row that names rerunnable keeps its value (the trigger only fills a missing one)", async () => {
    const { instanceId } = await seedProject(t.db, { id: "keep" });
    const stage = await t.db.selectFrom("stage").select(["id", "rollout_id"]).executeTakeFirstOrThrow();
    const { rows } = await sql<{ rerunnable: boolean }>`
      INSERT INTO task (rollout_id, stage_id, instance_id, database_name, type, statement, rerunnable)
      VALUES (${stage.rollout_id}, ${stage.id}, ${instanceId}, 'k', 'DATABASE_SCHEMA_UPDATE', 'VACUUM', true) RETURNING rerunnable`.execute(
      t.db,
    );
    expect(rows).toEqual([{ rerunnable: true }]);
  });
});

describe("0063: a waiting cause written by the release before it (3b534e9) knows its database", () => {
  it("the trigger fills the run's database, so this release's live pass finds the run when the database frees", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { id: "p0063" });
    const rollout = await rolloutCreate(
      t.db,
      { projectId, title: "r", createdBy: "old", stages: [{ environment: "test", tasks: [task(instanceId, "x"), task(instanceId, "x")] }] },
      new Date(),
    );
    const ids = (await t.db.selectFrom("task").select("id").where("rollout_id", "=", rollout).orderBy("id").execute()).map((r) => r.id);
    for (const id of ids) await tasksRun(t.db, { rolloutId: rollout, taskIds: [id], runAt: null, actor: "old", now: new Date() });
    const passes = new PendingScheduler({ db: t.db, clock: { now: () => new Date() }, replicaId: "new", fullPassIntervalMs: 1e12 });
    while ((await passes.runOnce())?.more);
    const [first, second] = await t.db
      .selectFrom("task_run")
      .select(["id", "status"])
      .where("rollout_id", "=", rollout)
      .orderBy("id")
      .execute();
    expect([first!.status, second!.status]).toEqual(["AVAILABLE", "PENDING"]);
    // The previous release's pass wrote the second run's cause (gatingWriteCauses as of 3b534e9, verbatim).
    await t.db.deleteFrom("task_run_wait").where("run_id", "=", second!.id).execute();
    const doc = JSON.stringify([[second!.id, { type: "DATABASE_BUSY", taskId: ids[0], since: new Date().toISOString() }]]);
    await sql`
    INSERT INTO task_run_wait (run_id, type, cause, rollout_id, run_created_at)
    SELECT c.id, c.cause ->> 'type', c.cause, r.rollout_id, r.created_at
    FROM (SELECT (e ->> 0)::bigint AS id, e -> 1 AS cause FROM jsonb_array_elements(${doc}::jsonb) AS e) c
    JOIN task_run r ON r.id = c.id AND r.status = 'PENDING'
    ON CONFLICT (run_id) DO UPDATE SET type = excluded.type, cause = excluded.cause`.execute(t.db);
    expect(
      await t.db
        .selectFrom("task_run_wait")
        .select(["instance_id", "database_name", "sequential"])
        .where("run_id", "=", second!.id)
        .execute(),
    ).toEqual([{ instance_id: instanceId, database_name: "x", sequential: true }]);

    const claimed = await taskRunsClaim(t.db, { replicaId: "new", limit: 10, leaseTtlMs: 60_000, now: new Date() });
    const mine = claimed.find((c) => c.id === first!.id)!;
    await taskRunFinish(t.db, {
      runId: mine.id,
      replicaId: "new",
      epoch: mine.epoch,
      status: "DONE",
      result: {},
      message: "",
      now: new Date(),
    });
    while ((await passes.runOnce())?.more);
    expect((await t.db.selectFrom("task_run").select("status").where("id", "=", second!.id).executeTakeFirstOrThrow()).status).toBe(
      "AVAILABLE",
    );
  });
});

/** squawk's rules that catch a change the previous release cannot live with (the rest are about locks and style). */
const ROLLING_RULES = [
  "adding-required-field",
  "adding-not-nullable-field",
  "renaming-column",
  "renaming-table",
  "ban-drop-column",
  "ban-drop-table",
  "changing-column-type",
];
/** Findings already shipped; each with what makes it safe now. Never add to this list: fix the migration. */
const SHIPPED: Record<string, string> = {
  "0004_task_rerunnable.sql:adding-not-nullable-field": "0005 fills rerunnable for writers that omit it (BEFORE INSERT trigger)",
};

interface Finding {
  file: string;
  rule_name: string;
  line: number;
  message: string;
}
const SQUAWK = path.join(import.meta.dirname, "../node_modules/.bin/squawk");
function squawk(files: string[]): Promise<Finding[]> {
  return new Promise((resolve, reject) => {
    // Exit status 1 means findings; the JSON report is on stdout either way.
    execFile(SQUAWK, ["--reporter", "json", "--assume-in-transaction", ...files], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== "number") return reject(err);
      try {
        resolve(JSON.parse(stdout) as Finding[]);
      } catch {
        reject(new Error(`squawk: ${stderr || stdout}`));
      }
    });
  });
}

describe("migrations lint (squawk): nothing the previous release cannot live with", () => {
  it("no migration adds NOT NULL without a default, renames, drops or retypes what the previous release uses", async () => {
    const files = (await fs.readdir(MIGRATIONS_DIR))
      .filter((f) => f.endsWith(".sql"))
      .sort()
      .map((f) => path.join(MIGRATIONS_DIR, f));
    const findings = (await squawk(files)).filter((f) => ROLLING_RULES.includes(f.rule_name));
    const unexplained = findings.map((f) => `${path.basename(f.file)}:${f.rule_name}`).filter((key) => !(key in SHIPPED));
    expect(unexplained, JSON.stringify(findings, null, 1)).toEqual([]);
  });

  it("catches each kind in a migration that breaks the previous release (the lint itself works)", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "runway-squawk-"));
    try {
      const bad = path.join(dir, "9999_bad.sql");
      await fs.writeFile(
        bad,
        [
          "ALTER TABLE task ADD COLUMN owner text NOT NULL;",
          "ALTER TABLE task ALTER COLUMN skip_reason SET NOT NULL;",
          "ALTER TABLE task RENAME COLUMN statement TO sql;",
          "ALTER TABLE stage RENAME TO phase;",
          "ALTER TABLE task DROP COLUMN skip_reason;",
          "DROP TABLE task_run_wait;",
          "ALTER TABLE task ALTER COLUMN database_name TYPE varchar(63);",
          "ALTER TABLE task ADD COLUMN fine text NOT NULL DEFAULT '';",
        ].join("\n"),
      );
      const rules = (await squawk([bad])).filter((f) => ROLLING_RULES.includes(f.rule_name)).map((f) => f.rule_name);
      expect([...new Set(rules)].sort()).toEqual([...ROLLING_RULES].sort());
      expect(rules).toHaveLength(ROLLING_RULES.length); // the last line (NOT NULL with a default) passes
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
