import { createPinia, setActivePinia } from "pinia";
import { beforeEach, describe, expect, it } from "vitest";
import { installFakeApi, type FakeApi } from "../../test/fake-api";
import { useAuthStore } from "./auth";
import { ROLLOUT_PAGE_SIZE, useRolloutsStore } from "./rollouts";

describe("rollouts store", () => {
  let api: FakeApi;
  beforeEach(async () => {
    setActivePinia(createPinia());
    api = installFakeApi((a) => (a.rolloutCount = 45));
    await useAuthStore().login("admin", "secret");
  });

  it("pages forward and back with the server's tokens", async () => {
    const store = useRolloutsStore();
    await store.load("shop");
    expect(store.rollouts).toHaveLength(ROLLOUT_PAGE_SIZE);
    expect([store.page, store.hasPrevious, store.hasNext]).toEqual([1, false, true]);
    await store.next();
    await store.next();
    expect(store.rollouts.map((r) => r.title)).toEqual(["Rollout 5", "Rollout 4", "Rollout 3", "Rollout 2", "Rollout 1"]);
    expect([store.page, store.hasNext]).toEqual([3, false]);
    await store.previous();
    expect(store.page).toBe(2);
    expect(store.rollouts[0]?.title).toBe("Rollout 25");
    const last = api.calls("GET", "/projects/shop/rollouts").at(-1);
    expect(last?.query.get("pageToken")).toBe("20");
  });

  it("refreshes the current page", async () => {
    const store = useRolloutsStore();
    await store.load("shop");
    await store.next();
    await store.refresh();
    expect(store.page).toBe(2);
    expect(api.calls("GET", "/projects/shop/rollouts").at(-1)?.query.get("pageToken")).toBe("20");
  });
});
