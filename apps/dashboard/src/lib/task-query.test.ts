import { describe, expect, it } from "vitest";
import { emptyQuery, isServerQuery, parseTaskQuery, taskQueryToApi, taskQueryToRoute, toggleSort } from "./task-query";

describe("task query in the URL", () => {
  it("round-trips through the route and leaves defaults out", () => {
    const q = { ...emptyQuery(), q: "shop", database: "tenant_1", errorCode: "42P07", sort: "finished" as const, order: "desc" as const };
    const route = taskQueryToRoute(q);
    expect(route).toMatchObject({ q: "shop", db: "tenant_1", error: "42P07", sort: "finished", order: "desc", stage: undefined });
    expect(parseTaskQuery(route)).toEqual(q);
    expect(Object.values(taskQueryToRoute(emptyQuery())).filter((v) => v !== undefined)).toEqual([]);
  });

  it("drops values the API would refuse", () => {
    expect(parseTaskQuery({ sort: "password", error: "DROP TABLE", type: "X", stage: "0", instance: "Bad!", order: "sideways" })).toEqual(
      emptyQuery(),
    );
    expect(parseTaskQuery({ q: ["a", "b"] }).q).toBe("a");
  });

  it("goes to the server for any search, filter or sort, never for statuses alone", () => {
    expect(isServerQuery(emptyQuery())).toBe(false);
    expect(isServerQuery({ ...emptyQuery(), q: "  " })).toBe(false);
    expect(isServerQuery({ ...emptyQuery(), type: "DATABASE_DATA_UPDATE" })).toBe(true);
    expect(isServerQuery({ ...emptyQuery(), order: "desc" })).toBe(true);
    expect(taskQueryToApi({ ...emptyQuery(), q: " x " }, ["FAILED"])).toMatchObject({ status: ["FAILED"], q: "x", sort: undefined });
  });

  it("toggles a column's direction, and starts another column ascending", () => {
    const a = toggleSort(emptyQuery(), "database");
    expect([a.sort, a.order]).toEqual(["database", "asc"]);
    const b = toggleSort(a, "database");
    expect([b.sort, b.order]).toEqual(["database", "desc"]);
    expect(toggleSort(b, "status").order).toBe("asc");
  });
});
