import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { refusalOf, TargetRefusal } from "../../src/executors/target-guard.js";
import { instanceCreate } from "../../src/store/instances.js";
import { adminQuery, createTargetDatabase, serverUrl, targetServerUrl, type TargetDatabase } from "../helpers/db.js";
import { withDatabase } from "../../src/db/url.js";
import { useApiApp } from "../helpers/api-app.js";
import { apiRollout, errorOf, taskSpec, testSecrets, type Who } from "../helpers/api.js";
import { finalRuns, guardedRuntime } from "./setup.js";

/**
 * The security review's requests (issue 11), replayed: a releaser must not reach the control plane
 * through any instance, and DATABASE_CREATE runs no free-form SQL.
 */
const api = useApiApp();
let target: TargetDatabase;
let rt: Awaited<ReturnType<typeof guardedRuntime>>;

const controlUrl = () => withDatabase(serverUrl(), api.t.name);
/** The superuser's `user:password@` (its password alone, "runway", is also a word of every message). */
const superCredentials = () => `${new URL(serverUrl()).username}:${new URL(serverUrl()).password}@`;

beforeAll(async () => {
  target = await createTargetDatabase("sec");
  expect((await api.call(api.admin, { method: "POST", url: "/api/v1/projects", payload: { id: "demo", title: "Demo" } })).statusCode).toBe(
    201,
  );
  // A target on the same server as the non-superuser role: what a correct instance looks like.
  const ok = await api.call(api.admin, {
    method: "POST",
    url: "/api/v1/instances",
    payload: { id: "good", title: "Good", connectionUrl: targetServerUrl(), projectIds: ["demo"] },
  });
  expect(ok.statusCode, ok.body).toBe(201);
  rt = await guardedRuntime(api.t, testSecrets);
});
afterAll(async () => {
  await rt?.stop();
  await target?.drop();
});

async function runAll(who: Who, tasks: ReturnType<typeof taskSpec>[]) {
  const { rolloutId, taskIds } = await apiRollout(api.app, who, "demo", [tasks]);
  const res = await api.call(who, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/tasks/run`, payload: { taskIds } });
  expect(res.statusCode, res.body).toBe(200);
  return finalRuns(api.t, taskIds);
}

describe("the control plane is never a target", () => {
  it("refuses an instance that reaches the control database or the control server as a superuser (422, saying why)", async () => {
    const cases = [
      [controlUrl(), TargetRefusal.TARGET_IS_CONTROL_DATABASE],
      [withDatabase(serverUrl(), target.name), TargetRefusal.TARGET_ROLE_IS_SUPERUSER],
    ] as const;
    for (const [connectionUrl, reason] of cases) {
      const res = await api.call(api.admin, {
        method: "POST",
        url: "/api/v1/instances",
        payload: { id: "local", title: "Local", connectionUrl },
      });
      const err = errorOf(res);
      expect(err, res.body).toMatchObject({ status: 422, code: "TARGET_REFUSED", details: { reason } });
      expect(res.body).not.toContain(superCredentials());
    }
    const patch = await api.call(api.admin, { method: "PATCH", url: "/api/v1/instances/good", payload: { connectionUrl: controlUrl() } });
    expect(errorOf(patch)).toMatchObject({
      status: 422,
      code: "TARGET_REFUSED",
      details: { reason: TargetRefusal.TARGET_IS_CONTROL_DATABASE },
    });
    const audit = await api.db
      .selectFrom("audit_log")
      .select(["outcome", "detail"])
      .where("action", "in", ["instance.create", "instance.update"])
      .execute();
    expect(audit.filter((a) => a.outcome === "TARGET_REFUSED")).toHaveLength(3);
    expect(JSON.stringify(audit)).not.toContain(superCredentials());
  });

  it("the review's escalation through an instance `local` on the control superuser URL fails at connect: no admin, no shell", async () => {
    // As an instance registered before this release would be: the store takes it without the API's check.
    await instanceCreate(api.db, { id: "local", title: "Local", connectionUrl: controlUrl(), projectIds: ["demo"] }, testSecrets);
    const marker = `/tmp/runway-sec-${randomBytes(6).toString("hex")}`;
    const runs = await runAll(api.releaser, [
      taskSpec("local", api.t.name, {
        type: "DATABASE_DATA_UPDATE",
        statement: `UPDATE app_user SET role = 'admin' WHERE username = '${api.releaser.username}'`,
      }),
      taskSpec("local", api.t.name, { type: "DATABASE_DATA_UPDATE", statement: `COPY (SELECT 1) TO PROGRAM 'touch ${marker}'` }),
      taskSpec("local", target.name, { type: "DATABASE_DATA_UPDATE", statement: `COPY (SELECT 1) TO PROGRAM 'touch ${marker}'` }),
    ]);
    expect(runs.map((r) => [r.status, r.result.error?.code])).toEqual([
      ["FAILED", TargetRefusal.TARGET_IS_CONTROL_DATABASE],
      ["FAILED", TargetRefusal.TARGET_IS_CONTROL_DATABASE],
      ["FAILED", TargetRefusal.TARGET_ROLE_IS_SUPERUSER],
    ]);
    expect(runs[2]!.result.error!.message).toMatch(/role "postgres" is a superuser/);
    expect((await api.call(api.releaser, { method: "GET", url: "/api/v1/auth/me" })).json().role).toBe("releaser");
    expect(existsSync(marker)).toBe(false);
  });

  it("the RAISE EXCEPTION probe cannot read the control plane: the error is the target's own", async () => {
    const probe = "DO $$ BEGIN RAISE EXCEPTION '%', (SELECT string_agg(id || ' ' || connection_url, ' ') FROM instance); END $$";
    const users = "DO $$ BEGIN RAISE EXCEPTION '%', (SELECT string_agg(username || ' ' || password_hash, ' ') FROM app_user); END $$";
    const runs = await runAll(api.releaser, [
      taskSpec("good", target.name, { type: "DATABASE_DATA_UPDATE", statement: probe }),
      taskSpec("good", target.name, { type: "DATABASE_DATA_UPDATE", statement: users }),
    ]);
    expect(runs.map((r) => [r.status, r.result.error?.code])).toEqual([
      ["FAILED", "42P01"],
      ["FAILED", "42P01"],
    ]);
    expect(runs[0]!.result.error!.message).toBe('relation "instance" does not exist');
    // Nor through another database of the server: the control database refuses the target role.
    const hop = await runAll(api.releaser, [taskSpec("good", api.t.name, { type: "DATABASE_DATA_UPDATE", statement: probe })]);
    expect(hop[0]!.status).toBe("FAILED");
    expect(hop[0]!.result.error!.message).toMatch(/permission denied for database|CONNECT privilege/);
    const viewer = await api.user("viewer");
    const runsSeen = await api.call(viewer, {
      method: "GET",
      url: `/api/v1/tasks/${(await api.db.selectFrom("task").select("id").orderBy("id", "desc").executeTakeFirstOrThrow()).id}/runs`,
    });
    for (const secret of [new URL(targetServerUrl()).password, "argon2", "rw1:"]) expect(runsSeen.body).not.toContain(secret);
  });

  it("refuses roles that could reach the control database or the server's OS, wherever they connect", async () => {
    const suffix = randomBytes(4).toString("hex");
    const roles = [
      [`sec_prog_${suffix}`, "GRANT pg_execute_server_program TO {r}", TargetRefusal.TARGET_ROLE_REACHES_SERVER_OS],
      [`sec_files_${suffix}`, "GRANT pg_read_server_files TO {r}", TargetRefusal.TARGET_ROLE_REACHES_SERVER_OS],
      [`sec_rls_${suffix}`, "ALTER ROLE {r} BYPASSRLS", TargetRefusal.TARGET_ROLE_BYPASSES_RLS],
      [`sec_roles_${suffix}`, "ALTER ROLE {r} CREATEROLE", TargetRefusal.TARGET_ROLE_CREATES_ROLES],
      [`sec_conn_${suffix}`, `GRANT CONNECT ON DATABASE ${api.t.name} TO {r}`, TargetRefusal.TARGET_ROLE_CAN_READ_CONTROL_DATABASE],
    ] as const;
    try {
      for (const [role, grant, reason] of roles) {
        await adminQuery(`CREATE ROLE ${role} LOGIN PASSWORD 'pw-${suffix}'`);
        await adminQuery(grant.replace("{r}", role));
        const url = new URL(withDatabase(serverUrl(), target.name));
        url.username = role;
        url.password = `pw-${suffix}`;
        await expect(rt.guard.probeUrl(url.toString()), role).rejects.toMatchObject({ code: reason });
      }
    } finally {
      for (const [role] of roles) {
        await adminQuery(`REVOKE ALL ON DATABASE ${api.t.name} FROM ${role}`).catch(() => undefined);
        await adminQuery(`DROP ROLE IF EXISTS ${role}`);
      }
    }
    // Another server is not the control plane: its superuser is that server's business.
    const probe = {
      sysid: "1",
      db: api.t.name,
      role: "postgres",
      super: true,
      bypassrls: true,
      createrole: true,
      serverOs: ["pg_execute_server_program"],
      controlConnect: true,
    };
    expect(refusalOf(probe, { systemIdentifier: "2", database: api.t.name })).toBeNull();
    expect(refusalOf(probe, { systemIdentifier: "1", database: api.t.name })?.code).toBe(TargetRefusal.TARGET_IS_CONTROL_DATABASE);
  });
});

describe("DATABASE_CREATE and project instances", () => {
  it("DATABASE_CREATE refuses a free-form statement (400) and creates the named database itself", async () => {
    const bad = await api.call(api.releaser, {
      method: "POST",
      url: "/api/v1/projects/demo/rollouts",
      payload: {
        title: "x",
        stages: [
          {
            environment: "e",
            tasks: [taskSpec("good", "newdb", { type: "DATABASE_CREATE", statement: "CREATE DATABASE newdb; ALTER ROLE x SUPERUSER" })],
          },
        ],
      },
    });
    expect(errorOf(bad)).toMatchObject({ status: 400, code: "INVALID_ARGUMENT" });
    expect(errorOf(bad).message).toContain("body/stages/0/tasks/0/statement must be empty for DATABASE_CREATE");
    const name = `sec_created_${randomBytes(4).toString("hex")}`;
    try {
      const runs = await runAll(api.releaser, [taskSpec("good", name, { type: "DATABASE_CREATE", statement: "" })]);
      expect(runs[0]!.status, JSON.stringify(runs[0]!.result)).toBe("DONE");
      const owner = await adminQuery("SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1", [name]);
      expect(owner.rows).toEqual([{ owner: new URL(targetServerUrl()).username }]);
    } finally {
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  });

  it("a task may only name an instance of its rollout's project (400 naming the task); an admin attaches instances", async () => {
    expect(
      (await api.call(api.admin, { method: "POST", url: "/api/v1/projects", payload: { id: "other", title: "Other" } })).statusCode,
    ).toBe(201);
    const inst = await api.call(api.admin, {
      method: "POST",
      url: "/api/v1/instances",
      payload: { id: "other-pg", title: "Other", connectionUrl: targetServerUrl(), projectIds: ["other"] },
    });
    expect(inst.statusCode, inst.body).toBe(201);
    const create = () =>
      api.call(api.releaser, {
        method: "POST",
        url: "/api/v1/projects/demo/rollouts",
        payload: { title: "x", stages: [{ environment: "e", tasks: [taskSpec("good", target.name), taskSpec("other-pg", target.name)] }] },
      });
    const refused = errorOf(await create());
    expect(refused).toMatchObject({
      status: 400,
      code: "INVALID_ARGUMENT",
      details: { task: "stages/0/tasks/1", instanceIds: ["other-pg"] },
    });
    expect(refused.message).toBe('stages/0/tasks/1 names instance "other-pg", which is not attached to project "demo"');
    expect(errorOf(await api.call(api.releaser, { method: "PUT", url: "/api/v1/projects/demo/instances/other-pg" })).status).toBe(403);
    expect((await api.call(api.admin, { method: "PUT", url: "/api/v1/projects/demo/instances/other-pg" })).statusCode).toBe(204);
    expect((await create()).statusCode).toBe(201);
    const listed = await api.call(api.releaser, { method: "GET", url: "/api/v1/projects/demo/instances" });
    expect(
      listed
        .json()
        .instances.map((i: { id: string }) => i.id)
        .sort(),
    ).toEqual(["good", "local", "other-pg"]);
    expect(listed.body).not.toContain(new URL(targetServerUrl()).password);
    expect((await api.call(api.admin, { method: "DELETE", url: "/api/v1/projects/demo/instances/other-pg" })).statusCode).toBe(204);
    expect(errorOf(await create()).status).toBe(400);
    const actions = (await api.db.selectFrom("audit_log").select("action").where("action", "like", "project.instance.%").execute()).map(
      (a) => a.action,
    );
    expect(actions).toEqual(expect.arrayContaining(["project.instance.attach", "project.instance.detach"]));
  });
});
