import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../src/config.js";
import { leastRoleText } from "../../src/http/openapi-roles.js";
import { useApiApp } from "../helpers/api-app.js";
import { apiOperations, type Operation } from "../helpers/openapi.js";

const api = useApiApp();

/** docs/api.md's endpoint table, as the document renders it: paths under /api/v1 without the prefix. */
function render(ops: Operation[]): string {
  const rows = ops.map((o) => {
    const shown = o.path.replace(/^\/api\/v1/, "");
    return `| \`${o.method} ${shown}\` | ${leastRoleText(o.role, o.path.replace(/\{(\w+)\}/g, ":$1"))} | ${o.summary} |`;
  });
  return ["| endpoint | least role | what |", "| --- | --- | --- |", ...rows].join("\n");
}

describe("the API's endpoints", () => {
  it("every operation of the OpenAPI document says its least role, the one its route enforces", async () => {
    const ops = await apiOperations(api.app);
    expect(ops.length).toBeGreaterThan(70);
    for (const o of ops) expect(["public", "viewer", "releaser", "admin"], `${o.method} ${o.path}`).toContain(o.role);
    const doc = (await api.app.inject({ method: "GET", url: "/api/openapi.json" })).json();
    expect(doc.paths["/api/v1/auth/login"].post.security).toEqual([]);
    expect(doc.paths["/api/v1/auth/login"].post.description).toMatch(/^Public: no credentials\./);
    expect(doc.paths["/api/v1/rollouts/{rolloutId}/pause"].post.description).toMatch(/^Least role: releaser \(in the project\)\./);
    expect(doc.paths["/api/v1/users"].get.description).toMatch(/^Least role: admin\./);
    expect(doc.paths["/api/v1/projects/{projectId}/webhooks"].get.description).toMatch(/^Least role: admin\./);
  });

  it("docs/api.md lists exactly the endpoints the server has, with their least roles", async () => {
    const doc = readFileSync(path.join(REPO_ROOT, "docs/api.md"), "utf8");
    const start = doc.indexOf("<!-- endpoints:begin -->");
    const end = doc.indexOf("<!-- endpoints:end -->");
    expect(start, "docs/api.md has a <!-- endpoints:begin --> marker").toBeGreaterThan(-1);
    // On failure, paste the expected table between the markers.
    expect(doc.slice(start + "<!-- endpoints:begin -->".length, end).trim()).toBe(render(await apiOperations(api.app)));
  });
});
