import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { nextTick } from "vue";
import { FakeEventSource } from "../../test/fake-event-source";
import { installFakeApi, makeTask, type FakeApi } from "../../test/fake-api";
import { useAuthStore } from "./auth";
import { useFreshnessStore } from "./freshness";
import { useLiveStore } from "./live";
import { useRolloutStore } from "./rollout";

const options = { EventSourceImpl: FakeEventSource as unknown as typeof EventSource, minDelayMs: 1, maxDelayMs: 4 };
const latest = () => FakeEventSource.instances[FakeEventSource.instances.length - 1]!;

describe("freshness store", () => {
  let api: FakeApi;
  let down = false;
  beforeEach(async () => {
    FakeEventSource.instances = [];
    down = false;
    setActivePinia(createPinia());
    api = installFakeApi((a) => (a.tasks = [makeTask(1), makeTask(2, { status: "FAILED" })]));
    // The server "stops": every request fails as the browser's fetch does.
    const reply = api.fetch;
    vi.stubGlobal("fetch", (input: string, init?: RequestInit) =>
      down ? Promise.reject(new TypeError("Failed to fetch")) : reply(input, init),
    );
    await useAuthStore().login("admin", "secret");
    await useRolloutStore().load("1");
    useLiveStore().connect("1", options);
    latest().open();
  });
  afterEach(() => {
    useLiveStore().disconnect();
    vi.useRealTimers();
  });

  it("is fresh after the load, naming when the data arrived", () => {
    const fresh = useFreshnessStore();
    expect(fresh.state.stale).toBe(false);
    expect(fresh.state.asOf).toBeInstanceOf(Date);
  });

  it("is stale while the stream reconnects, keeps the rows, and is fresh once the catch-up lands", async () => {
    const fresh = useFreshnessStore();
    const rollout = useRolloutStore();
    const asOf = fresh.state.asOf;
    down = true;
    latest().fail(false);
    expect(fresh.state).toEqual({ stale: true, doing: "reconnecting", asOf });
    expect(rollout.tasks.map((t) => t.status)).toEqual(["NOT_STARTED", "FAILED"]);

    down = false;
    api.tasks[0]!.status = "SKIPPED";
    latest().open(); // the stream is back: it asks for a catch-up
    await vi.waitFor(() => expect(fresh.state.stale).toBe(false), { timeout: 2000 });
    expect(rollout.tasks[0]!.status).toBe("SKIPPED");
    expect(fresh.state.asOf!.getTime()).toBeGreaterThanOrEqual(asOf!.getTime());
  });

  it("after a failed refresh with the stream up, says 'retrying' and retries with backoff until data arrives", async () => {
    vi.useFakeTimers();
    const fresh = useFreshnessStore();
    const rollout = useRolloutStore();
    down = true;
    await rollout.resync().catch(() => undefined);
    await nextTick();
    expect(fresh.state).toMatchObject({ stale: true, doing: "retrying" });
    expect(rollout.error).toMatchObject({ code: "NETWORK" });
    expect(fresh.attempt).toBe(1);

    // The first retry (after 1 s) fails again; the next waits 2 s.
    await vi.advanceTimersByTimeAsync(1000);
    expect(fresh.attempt).toBe(2);
    expect(fresh.state.stale).toBe(true);

    down = false;
    await vi.advanceTimersByTimeAsync(2000);
    expect(fresh.state.stale).toBe(false);
    expect(rollout.error).toBeNull();
    expect(fresh.attempt).toBe(0);
  });

  it("a failed first load is not staleness (the page shows its error), and is not retried in a loop", async () => {
    const fresh = useFreshnessStore();
    const rollout = useRolloutStore();
    rollout.reset();
    down = true;
    await rollout.load("1").catch(() => undefined);
    await nextTick();
    expect(fresh.state.stale).toBe(false);
    expect(fresh.attempt).toBe(0);
  });
});
