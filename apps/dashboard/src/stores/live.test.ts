import { createPinia, setActivePinia } from "pinia";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { FakeEventSource } from "../../test/fake-event-source";
import { installFakeApi, makeTask, type FakeApi } from "../../test/fake-api";
import { useAuthStore } from "./auth";
import { useLiveStore } from "./live";
import { useRolloutStore } from "./rollout";

const options = { EventSourceImpl: FakeEventSource as unknown as typeof EventSource, minDelayMs: 1, maxDelayMs: 4 };
const latest = () => FakeEventSource.instances[FakeEventSource.instances.length - 1]!;

describe("live store", () => {
  let api: FakeApi;
  beforeEach(async () => {
    FakeEventSource.instances = [];
    setActivePinia(createPinia());
    api = installFakeApi((a) => (a.tasks = [makeTask(1), makeTask(2)]));
    await useAuthStore().login("admin", "secret");
    await useRolloutStore().load("1");
  });

  it("connects to the rollout's event stream and reports its state", () => {
    const live = useLiveStore();
    live.connect("1", options);
    expect(latest().url).toBe("/api/v1/events?rolloutId=1");
    expect(live.state).toBe("connecting");
    latest().open();
    expect(live.state).toBe("live");
  });

  it("hands events to the rollout store, which catches up", async () => {
    const live = useLiveStore();
    live.connect("1", options);
    latest().open();
    api.tasks[1]!.status = "AVAILABLE";
    latest().emit("change", { rolloutId: "1" });
    await vi.waitFor(() => expect(useRolloutStore().taskById("2")?.status).toBe("AVAILABLE"));
  });

  it("shows reconnecting while the stream is down and reloads when it is back", async () => {
    const live = useLiveStore();
    live.connect("1", options);
    latest().open();
    latest().fail(false);
    expect(live.state).toBe("reconnecting");
    api.tasks[0]!.status = "DONE";
    latest().open();
    expect(live.state).toBe("live");
    await vi.waitFor(() => expect(useRolloutStore().taskById("1")?.status).toBe("DONE"));
  });

  it("opens a new stream with backoff when the server closed it", async () => {
    const live = useLiveStore();
    live.connect("1", options);
    const first = latest();
    first.open();
    first.fail(true);
    expect(live.state).toBe("reconnecting");
    await vi.waitFor(() => expect(FakeEventSource.instances).toHaveLength(2));
    latest().open();
    expect(live.state).toBe("live");
  });

  it("closes the stream on disconnect", () => {
    const live = useLiveStore();
    live.connect("1", options);
    live.disconnect();
    expect(latest().closed).toBe(true);
    expect(live.state).toBe("idle");
  });
});
