import { createPinia, setActivePinia } from "pinia";
import { beforeEach, describe, expect, it } from "vitest";
import { installFakeApi, type FakeApi } from "../../test/fake-api";
import { useAuthStore } from "./auth";
import { useProjectsStore } from "./projects";

describe("projects store", () => {
  let api: FakeApi;
  beforeEach(async () => {
    setActivePinia(createPinia());
    api = installFakeApi();
    await useAuthStore().login("admin", "secret");
  });

  it("lists projects", async () => {
    const store = useProjectsStore();
    await store.load();
    expect(store.projects.map((p) => p.id)).toEqual(["shop"]);
    expect(store.byId.get("shop")?.parallelTasksPerRollout).toBe(2);
  });

  it("changes the parallel limit through PATCH and keeps the answer", async () => {
    const store = useProjectsStore();
    await store.load();
    await store.setParallelLimit("shop", 5);
    expect(api.calls("PATCH", "/projects/shop")[0]?.body).toEqual({ parallelTasksPerRollout: 5 });
    expect(store.byId.get("shop")?.parallelTasksPerRollout).toBe(5);
  });

  it("fetches one project it did not list", async () => {
    const store = useProjectsStore();
    api.projects.push({ id: "crm", title: "CRM", parallelTasksPerRollout: 0 });
    await store.fetchOne("crm");
    expect(store.byId.get("crm")?.title).toBe("CRM");
    await expect(store.fetchOne("nope")).rejects.toMatchObject({ status: 404 });
  });
});
