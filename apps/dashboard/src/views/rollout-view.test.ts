import type { Role } from "@runway/shared";
import { describe, expect, it, vi } from "vitest";
import { FakeEventSource } from "../../test/fake-event-source";
import { installFakeApi, makeRun, makeTask } from "../../test/fake-api";
import { mountWithApp } from "../../test/mount";
import App from "../app.vue";

async function openRollout(role: Role, path = "/rollouts/1") {
  FakeEventSource.instances = [];
  vi.stubGlobal("EventSource", FakeEventSource);
  installFakeApi((a) => {
    a.user = { username: "u", role };
    a.tasks = [
      makeTask(1),
      makeTask(2, { status: "AVAILABLE", latestRun: makeRun("2", { status: "AVAILABLE" }) }),
      makeTask(3, { status: "RUNNING", latestRun: makeRun("3", { status: "RUNNING", startedAt: "2030-01-01T10:00:00Z" }) }),
      makeTask(4, {
        status: "PENDING",
        latestRun: makeRun("4", { waitingCause: { type: "PARALLEL_LIMIT", limit: 2, active: 2, since: "2030-01-01T10:00:00Z" } }),
      }),
    ];
  });
  const mounted = await mountWithApp(App, { path });
  // The first test also loads the view's modules: give it more than waitFor's default second on a busy machine.
  await vi.waitFor(() => expect(mounted.wrapper.findAll("[data-task-id]").length).toBeGreaterThan(0), { timeout: 5000 });
  return mounted;
}

describe("rollout page", () => {
  it("shows the rollout, its stages, chips with counts and the tasks", async () => {
    const { wrapper } = await openRollout("releaser");
    expect(wrapper.find('[data-testid="rollout-title"]').text()).toBe("Add columns");
    expect(wrapper.findAll('[data-testid="stage"]')).toHaveLength(2);
    expect(wrapper.find('[data-testid="chip-AVAILABLE"]').attributes("data-count")).toBe("1");
    expect(wrapper.find('[data-cause="PARALLEL_LIMIT"]').text()).toBe("Parallel limit reached (2/2)");
    wrapper.unmount();
  });

  it("offers actions to a releaser, only where the status allows", async () => {
    const { wrapper } = await openRollout("releaser");
    const row = (id: string) => wrapper.find(`tr[data-task-id="${id}"]`);
    expect(
      row("1")
        .findAll("[data-testid^=row-action-]")
        .map((b) => b.attributes("data-testid")),
    ).toEqual(["row-action-run", "row-action-skip"]);
    expect(
      row("3")
        .findAll("[data-testid^=row-action-]")
        .map((b) => b.attributes("data-testid")),
    ).toEqual(["row-action-cancel"]);
    expect(wrapper.findAll('[data-testid="select-task"]')).toHaveLength(4);
    wrapper.unmount();
  });

  it("shows a viewer no action buttons and no selection", async () => {
    const { wrapper } = await openRollout("viewer");
    expect(wrapper.findAll("[data-testid^=row-action-]")).toHaveLength(0);
    expect(wrapper.findAll('[data-testid="bulk-actions"]')).toHaveLength(0);
    expect(wrapper.findAll("input[type=checkbox]")).toHaveLength(0);
    wrapper.unmount();
  });

  it("filters by the statuses in the URL and writes chip changes back", async () => {
    const { wrapper, router } = await openRollout("viewer", "/rollouts/1?status=AVAILABLE&status=RUNNING");
    await vi.waitFor(() => expect(wrapper.findAll("tr[data-task-id]").map((r) => r.attributes("data-task-id"))).toEqual(["2", "3"]));
    await wrapper.find('[data-testid="chip-RUNNING"]').trigger("click");
    await vi.waitFor(() => expect(router.currentRoute.value.query.status).toEqual(["AVAILABLE"]));
    await vi.waitFor(() => expect(wrapper.findAll("tr[data-task-id]").map((r) => r.attributes("data-task-id"))).toEqual(["2"]));
    wrapper.unmount();
  });

  it("opens the task drawer from the URL with the statement", async () => {
    const { wrapper } = await openRollout("viewer", "/rollouts/1?task=3");
    await vi.waitFor(() => expect(document.body.querySelector('[data-testid="task-statement"]')?.textContent).toContain("ALTER TABLE t3"));
    wrapper.unmount();
  });
});
