import { afterEach, describe, expect, it } from "vitest";
import { useApiApp } from "../helpers/api-app.js";
import { errorOf } from "../helpers/api.js";

/**
 * Issue 11, hardening: an audit entry is never silently dropped. The entry is written (IN_PROGRESS) before
 * the handler acts and completed before the answer leaves; either write failing makes the request fail.
 * The failures are real: a trigger in the test's own database refuses the write.
 */
const api = useApiApp();
afterEach(async () => {
  await sql("DROP TRIGGER IF EXISTS refuse_audit ON audit_log");
});

async function sql(text: string): Promise<void> {
  await api.t.pool.query(text);
}

/** Makes PostgreSQL refuse audit writes of `action` on `op` (INSERT or UPDATE). */
async function refuseAudit(op: "INSERT" | "UPDATE", action: string): Promise<void> {
  await sql(`CREATE OR REPLACE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.action = '${action}' THEN RAISE EXCEPTION 'audit write refused by the test'; END IF; RETURN NEW; END $$`);
  await sql(`CREATE TRIGGER refuse_audit BEFORE ${op} ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit()`);
}

describe("audit writes that fail fail the request", () => {
  it("the entry cannot be begun: 500 and the action never happens", async () => {
    await refuseAudit("INSERT", "project.create");
    const res = await api.call(api.admin, { method: "POST", url: "/api/v1/projects", payload: { id: "unaudited", title: "x" } });
    expect(errorOf(res)).toMatchObject({ status: 500, code: "INTERNAL" });
    expect(errorOf(res).message).toMatch(/nothing was done/);
    expect(await api.db.selectFrom("project").select("id").where("id", "=", "unaudited").executeTakeFirst()).toBeUndefined();
  });

  it("the entry cannot be completed: 500 saying the action was carried out; the entry stays IN_PROGRESS", async () => {
    await api.call(api.admin, { method: "POST", url: "/api/v1/projects", payload: { id: "half", title: "before" } });
    await refuseAudit("UPDATE", "project.update");
    const res = await api.call(api.admin, { method: "PATCH", url: "/api/v1/projects/half", payload: { title: "after" } });
    expect(errorOf(res)).toMatchObject({ status: 500, code: "INTERNAL" });
    expect(errorOf(res).message).toMatch(/carried out but its audit entry \d+ could not be completed/);
    const entry = await api.db
      .selectFrom("audit_log")
      .select(["outcome", "actor", "client_addr"])
      .where("action", "=", "project.update")
      .orderBy("id", "desc")
      .executeTakeFirstOrThrow();
    expect(entry).toEqual({ outcome: "IN_PROGRESS", actor: "admin", client_addr: "127.0.0.1" });
  });

  it("a denial whose entry cannot be written is a 500 too (never a silent 403)", async () => {
    const viewer = await api.user("viewer");
    await refuseAudit("INSERT", "project.create");
    const res = await api.call(viewer, { method: "POST", url: "/api/v1/projects", payload: { id: "denied", title: "x" } });
    expect(errorOf(res)).toMatchObject({ status: 500, code: "INTERNAL" });
  });

  it("every entry records the client address", async () => {
    const res = await api.call(api.admin, {
      method: "POST",
      url: "/api/v1/projects",
      payload: { id: "addr", title: "x" },
      remoteAddress: "203.0.113.7",
    });
    expect(res.statusCode).toBe(201);
    const list = (await api.call(api.admin, { method: "GET", url: "/api/v1/audit-log?action=project.create&pageSize=1" })).json();
    expect(list.entries[0]).toMatchObject({ target: "project/addr", outcome: "SUCCESS", clientAddress: "203.0.113.7" });
  });
});
