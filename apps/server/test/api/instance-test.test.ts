import { describe, expect, it } from "vitest";
import { useApiApp } from "../helpers/api-app.js";
import { errorOf } from "../helpers/api.js";
import { serverUrl } from "../helpers/db.js";
import { asTargetRole } from "../helpers/target-role.js";

/** `POST /instances/:id/test`: the instances page's "Test connection". */
const api = useApiApp();

const test = (id: string, who = api.admin) => api.call(who, { method: "POST", url: `/api/v1/instances/${id}/test` });

describe("instance connection test", () => {
  it("reports version and databases of a reachable instance, and why an unreachable one fails", async () => {
    const created = await api.call(api.admin, {
      method: "POST",
      url: "/api/v1/instances",
      payload: { id: "reachable", title: "Reachable", connectionUrl: await asTargetRole(serverUrl()) },
    });
    expect(created.statusCode, created.body).toBe(201);
    const ok = await test("reachable");
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({ reachable: true, serverVersion: expect.stringMatching(/^\d+/), databases: expect.any(Array) });
    expect(ok.json().databases).toContain("postgres");

    const { instanceId } = await api.project(); // postgres://nobody@127.0.0.1:1/none
    const down = await test(instanceId);
    expect(down.json()).toMatchObject({ reachable: false, error: expect.any(String) });
    const audit = await api.call(api.admin, { method: "GET", url: `/api/v1/audit-log?action=instance.test&pageSize=1` });
    expect(audit.json().entries[0]).toMatchObject({ target: `instance/${instanceId}`, outcome: "SUCCESS", detail: { reachable: false } });
  });

  it("is for admins only, and a missing instance is a 404", async () => {
    expect(errorOf(await test("reachable", api.releaser)).status).toBe(403);
    expect(errorOf(await test("no-such-instance")).status).toBe(404);
  });
});
