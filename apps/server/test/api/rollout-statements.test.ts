import { describe, expect, it } from "vitest";
import { useApiApp } from "../helpers/api-app.js";
import { apiProject, errorOf, taskSpec } from "../helpers/api.js";

const api = useApiApp();

const rolloutCount = async () => (await api.db.selectFrom("rollout").select("id").execute()).length;

describe("POST /projects/:projectId/rollouts: statements parsed by PostgreSQL's parser", () => {
  it("400 INVALID_ARGUMENT naming the task and the statement for transaction control, a statement that must run alone, and a syntax error", async () => {
    const { projectId, instanceId } = await apiProject(api.app, api.admin, "stmts");
    const before = await rolloutCount();
    const post = (statement: string, type = "DATABASE_SCHEMA_UPDATE") =>
      api.call(api.admin, {
        method: "POST",
        url: `/api/v1/projects/${projectId}/rollouts`,
        payload: {
          title: "t",
          stages: [
            { environment: "a", tasks: [taskSpec(instanceId, "ok")] },
            { environment: "b", tasks: [taskSpec(instanceId, "shop", { statement, type })] },
          ],
        },
      });

    const control = errorOf(await post("CREATE TABLE a (id int);\nCOMMIT;\nCREATE TABLE b (id int)"));
    expect(control).toMatchObject({
      status: 400,
      code: "INVALID_ARGUMENT",
      details: {
        refused: 1,
        errors: [
          {
            path: "stages/1/tasks/0/statement",
            task: "stages/1/tasks/0",
            database: "shop",
            problem: "TRANSACTION_CONTROL",
            statement: "COMMIT",
            position: 26,
          },
        ],
      },
    });
    expect(control.message).toMatch(
      /^task stages\/1\/tasks\/0 \(database "shop"\): statement "COMMIT" at position 26 is transaction control \(COMMIT\)/,
    );
    expect(errorOf(await post("ROLLBACK PREPARED 'x'", "DATABASE_DATA_UPDATE"))).toMatchObject({
      status: 400,
      details: { errors: [{ problem: "TRANSACTION_CONTROL", statement: "ROLLBACK PREPARED 'x'" }] },
    });

    const alone = errorOf(await post("CREATE TABLE a (id int); CREATE INDEX CONCURRENTLY a_i ON a (id)"));
    expect(alone).toMatchObject({
      status: 400,
      code: "INVALID_ARGUMENT",
      details: { errors: [{ problem: "MUST_RUN_ALONE", statement: "CREATE INDEX CONCURRENTLY a_i ON a (id)", position: 26 }] },
    });
    expect(alone.message).toMatch(/CREATE INDEX CONCURRENTLY\) cannot run inside a transaction block.*put it in a task of its own/);

    const syntax = errorOf(await post("ALTER TABLE a ADD COLUMN b text;\nALTER TABEL a DROP COLUMN c"));
    expect(syntax).toMatchObject({
      status: 400,
      code: "INVALID_ARGUMENT",
      details: { errors: [{ problem: "SYNTAX_ERROR", position: 40 }] },
    });
    expect(syntax.message).toBe('task stages/1/tasks/0 (database "shop"): syntax error at or near "TABEL" at position 40');

    // Not blank, so the body's check passes it; the parser finds no statement in it.
    const nothing = errorOf(await post("-- ALTER TABLE a ADD COLUMN b text;\n;"));
    expect(nothing).toMatchObject({
      status: 400,
      code: "INVALID_ARGUMENT",
      details: { errors: [{ path: "stages/1/tasks/0/statement", problem: "NO_STATEMENT" }] },
    });
    expect(nothing.message).toMatch(/^task stages\/1\/tasks\/0 \(database "shop"\): the statement has nothing to run/);
    expect(await rolloutCount()).toBe(before);
  });

  it("a version repeated on one database (in any stage, however it is written) refuses the rollout; other databases and versions may share it", async () => {
    const { projectId, instanceId } = await apiProject(api.app, api.admin, "dupver");
    const before = await rolloutCount();
    const post = (stages: object[]) =>
      api.call(api.admin, { method: "POST", url: `/api/v1/projects/${projectId}/rollouts`, payload: { title: "t", stages } });
    const v = (database: string, schemaVersion: string) => taskSpec(instanceId, database, { schemaVersion });

    const dup = errorOf(
      await post([
        { environment: "staging", tasks: [v("shop", "0007"), v("other", "0007")] },
        { environment: "prod", tasks: [v("shop", "7")] },
      ]),
    );
    expect(dup).toMatchObject({
      status: 400,
      code: "INVALID_ARGUMENT",
      details: {
        refused: 1,
        errors: [
          {
            path: "stages/1/tasks/0/schemaVersion",
            task: "stages/1/tasks/0",
            database: "shop",
            problem: "DUPLICATE_VERSION",
            version: "7",
            other: "stages/0/tasks/0",
          },
        ],
      },
    });
    expect(dup.message).toBe(
      'task stages/1/tasks/0 (database "shop"): schema version 7 is already the version of task stages/0/tasks/0 on this database; a version is applied once per database',
    );
    expect(await rolloutCount()).toBe(before);

    // "1" and "1.0" are two versions (as in release files); one version on two databases is the usual rollout.
    const ok = await post([{ environment: "e", tasks: [v("shop", "1"), v("shop", "1.0"), v("other", "1"), taskSpec(instanceId, "shop")] }]);
    expect(ok.statusCode, ok.body).toBe(201);
  });

  it("many refused tasks: one error lists the first 20 and counts them all", async () => {
    const { projectId, instanceId } = await apiProject(api.app, api.admin, "many");
    const tasks = Array.from({ length: 30 }, (_, i) => taskSpec(instanceId, `d${i}`, { statement: "BEGIN; SELECT 1; COMMIT" }));
    const err = errorOf(
      await api.call(api.admin, {
        method: "POST",
        url: `/api/v1/projects/${projectId}/rollouts`,
        payload: { title: "t", stages: [{ environment: "e", tasks }] },
      }),
    );
    expect(err).toMatchObject({ status: 400, details: { refused: 30 } });
    expect((err.details as { errors: unknown[] }).errors).toHaveLength(20);
    expect(err.message).toMatch(/; and 10 more$/);
  });

  it("accepted statements record whether they run in a transaction (task.rerunnable)", async () => {
    const { projectId, instanceId } = await apiProject(api.app, api.admin, "okstmts");
    const statements = [
      "CREATE TABLE a (id int); INSERT INTO a VALUES (1)",
      "CREATE INDEX CONCURRENTLY a_i ON a (id)",
      "VACUUM a",
      "DO $$ BEGIN PERFORM 1; END $$",
      "-- a comment before\nSELECT 1", // a text of comments alone is refused (NO_STATEMENT, above)
    ];
    const res = await api.call(api.admin, {
      method: "POST",
      url: `/api/v1/projects/${projectId}/rollouts`,
      payload: {
        title: "t",
        stages: [
          {
            environment: "e",
            tasks: [
              ...statements.map((statement, i) => taskSpec(instanceId, `d${i}`, { statement })),
              taskSpec(instanceId, "new", { type: "DATABASE_CREATE", statement: "" }),
            ],
          },
        ],
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    const rows = await api.db
      .selectFrom("task")
      .select(["database_name", "rerunnable"])
      .where("rollout_id", "=", res.json().id)
      .orderBy("id")
      .execute();
    expect(rows.map((r) => [r.database_name, r.rerunnable])).toEqual([
      ["d0", true],
      ["d1", false],
      ["d2", false],
      ["d3", true],
      ["d4", true],
      ["new", true],
    ]);
  });
});
