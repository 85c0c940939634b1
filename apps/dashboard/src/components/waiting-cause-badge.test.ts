import type { ServedWaitingCause } from "@/api/types";
import { createPinia, setActivePinia } from "pinia";
import { describe, expect, it, vi } from "vitest";
import { nextTick } from "vue";
import { i18n } from "@/i18n";
import { useRolloutStore } from "@/stores/rollout";
import { installFakeApi, makeRun, makeTask } from "../../test/fake-api";
import { mountWithApp } from "../../test/mount";
import WaitingCauseBadge from "./waiting-cause-badge.vue";

async function badge(cause: ServedWaitingCause, status: "PENDING" | "RUNNING" = "PENDING") {
  installFakeApi((a) => (a.user = { username: "admin", role: "admin" }));
  const task = makeTask(5, { status, latestRun: makeRun("5", { status, waitingCause: cause }) });
  return mountWithApp(WaitingCauseBadge, { props: { task }, path: "/rollouts/1" });
}

const since = "2030-01-01T10:00:00Z";

describe("waiting-cause badge", () => {
  it("names the blocking task and version, and jumps to it on click", async () => {
    const { wrapper, router } = await badge({ type: "VERSION_ORDER", taskId: "12", schemaVersion: "0003", since });
    const tag = wrapper.find('[data-testid="waiting-cause"]');
    expect(tag.text()).toBe("Waiting for task #12 (version 0003)");
    await tag.trigger("click");
    await vi.waitFor(() => expect(router.currentRoute.value.query.task).toBe("12"));
  });

  it("mounts the explanation's tooltip on the first hover, and shows it", async () => {
    const { wrapper } = await badge({ type: "VERSION_ORDER", taskId: "12", schemaVersion: "0003", since });
    const explanation = "A task with a lower schema version on the same database must finish first.";
    expect(document.body.textContent).not.toContain(explanation);
    await wrapper.find('[data-testid="waiting-cause"]').trigger("mouseenter");
    await vi.waitFor(() => expect(document.body.textContent).toContain(explanation));
    expect(wrapper.find('[data-testid="waiting-cause"]').text()).toBe("Waiting for task #12 (version 0003)");
    wrapper.unmount();
  });

  it("says the database is busy", async () => {
    const { wrapper } = await badge({ type: "DATABASE_BUSY", taskId: "7", since });
    expect(wrapper.text()).toBe("Database busy: task #7 is running");
  });

  it("says the target is unreachable, with the attempt, and the last error in the explanation", async () => {
    const retryAt = new Date(Date.now() + 60_000).toISOString();
    const { wrapper } = await badge({
      type: "TARGET_UNREACHABLE",
      attempts: 3,
      lastError: "connect ECONNREFUSED 10.0.0.5:5432",
      retryAt,
      since,
    });
    expect(wrapper.text()).toMatch(/^Target unreachable, attempt 3; retry in \d+ (seconds|minute)/);
    await wrapper.find('[data-testid="waiting-cause"]').trigger("mouseenter");
    await vi.waitFor(() => expect(document.body.textContent).toContain("Last error: connect ECONNREFUSED 10.0.0.5:5432"));
    wrapper.unmount();
  });

  it("shows the parallel limit with the active count", async () => {
    const { wrapper } = await badge({ type: "PARALLEL_LIMIT", limit: 3, active: 3, since });
    expect(wrapper.text()).toBe("Parallel limit reached (3/3)");
  });

  it("counts the limit's active runs live once every task is loaded (deltas do not resend waiting tasks)", async () => {
    const pinia = createPinia();
    setActivePinia(pinia);
    const store = useRolloutStore();
    store.upsert([makeTask(1, { status: "RUNNING" }), makeTask(2, { status: "AVAILABLE" })]);
    store.complete = true;
    installFakeApi((a) => (a.user = { username: "admin", role: "admin" }));
    const cause: ServedWaitingCause = { type: "PARALLEL_LIMIT", limit: 3, active: 3, since }; // as served a while ago
    const task = makeTask(5, { status: "PENDING", latestRun: makeRun("5", { waitingCause: cause }) });
    const { wrapper } = await mountWithApp(WaitingCauseBadge, { props: { task }, path: "/rollouts/1", pinia });
    expect(wrapper.text()).toBe("Parallel limit reached (2/3)");
    store.upsert([makeTask(1, { status: "DONE" })]);
    await nextTick();
    expect(wrapper.text()).toBe("Parallel limit reached (1/3)");
  });

  it("shows a scheduled time in local time with a relative time", async () => {
    const runAt = new Date(Date.now() + 2 * 3600_000 + 60_000).toISOString();
    const { wrapper } = await badge({ type: "RUN_AT", runAt, since });
    const sameDay = new Date(runAt).toDateString() === new Date().toDateString();
    const local = i18n.global.d(new Date(runAt), sameDay ? "time" : "short");
    expect(wrapper.text()).toBe(`Scheduled for ${local} (in 2 hours)`);
  });

  it("shows nothing when the task is not PENDING", async () => {
    const { wrapper } = await badge({ type: "DATABASE_BUSY", taskId: "7", since }, "RUNNING");
    expect(wrapper.find('[data-testid="waiting-cause"]').exists()).toBe(false);
  });
});
