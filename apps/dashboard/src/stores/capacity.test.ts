import { createPinia, setActivePinia } from "pinia";
import { afterEach, describe, expect, it, vi } from "vitest";
import { useCapacityStore } from "./capacity";

const body = (allBusy: boolean) => ({
  replicas: [{ id: "r1", startedAt: "2030-01-01T00:00:00Z", heartbeatAt: "2030-01-01T00:00:00Z", stopping: false, slots: 1, busy: 1 }],
  capacity: { live: 1, slots: 1, busy: allBusy ? 1 : 0, allBusy },
});

afterEach(() => vi.unstubAllGlobals());

describe("capacity store", () => {
  it("polls GET /replicas while used, one request at a time, and stops when nobody uses it", async () => {
    setActivePinia(createPinia());
    const calls: string[] = [];
    vi.stubGlobal("fetch", async (input: string | URL | Request) => {
      calls.push(new URL(String(input), "http://localhost").pathname);
      return new Response(JSON.stringify(body(true)), { status: 200, headers: { "content-type": "application/json" } });
    });
    const store = useCapacityStore();
    expect(store.allBusy()).toBe(false);
    const stopA = store.use();
    const stopB = store.use();
    await vi.waitFor(() => expect(store.allBusy()).toBe(true));
    expect(calls).toEqual(["/api/v1/replicas"]);
    stopA();
    stopB();
  });

  it("forgets the capacity when the server cannot say (no stale 'waiting for a free executor')", async () => {
    setActivePinia(createPinia());
    let ok = true;
    vi.stubGlobal("fetch", async () =>
      ok
        ? new Response(JSON.stringify(body(true)), { status: 200, headers: { "content-type": "application/json" } })
        : new Response("{}", { status: 503 }),
    );
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const store = useCapacityStore();
      const stop = store.use();
      await vi.waitFor(() => expect(store.allBusy()).toBe(true));
      ok = false;
      await vi.advanceTimersByTimeAsync(5_000);
      await vi.waitFor(() => expect(store.list).toBeNull());
      stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
