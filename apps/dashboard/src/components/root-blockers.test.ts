import { afterEach, describe, expect, it, vi } from "vitest";
import type { RolloutBlockers } from "@/api";
import { i18n } from "@/i18n";
import { useBlockersStore } from "@/stores/blockers";
import { installFakeApi, makeTask } from "../../test/fake-api";
import { useRolloutStore } from "@/stores/rollout";
import { mountWithApp } from "../../test/mount";
import RootBlockers from "./root-blockers.vue";

const root = (taskId: string, held: number): RolloutBlockers["roots"][number] => ({
  taskId,
  rolloutId: "1",
  status: "FAILED",
  schemaVersion: "0001",
  database: "shop",
  runId: "1",
  since: null,
  held,
  heldByStage: {},
  waitingCause: null,
});

async function summaryText(held: number, roots: number[]): Promise<string> {
  installFakeApi((a) => (a.user = { username: "admin", role: "admin" }));
  const { wrapper } = await mountWithApp(RootBlockers, { path: "/rollouts/1" });
  useBlockersStore().summary = { held, roots: roots.map((h, i) => root(String(i + 10), h)), stages: [] };
  await wrapper.vm.$nextTick();
  // The alert's header: its text before the first root's line.
  const all = wrapper.find('[data-testid="root-blockers"]').text();
  const text = all.slice(0, all.indexOf(wrapper.find(".root").text()));
  wrapper.unmount();
  return text;
}

describe("root blockers", () => {
  afterEach(() => {
    i18n.global.locale.value = "en";
  });

  it("counts waiting tasks and the tasks holding them each in their own number", async () => {
    expect(await summaryText(1, [1])).toBe("1 waiting task is held by 1 task");
    expect(await summaryText(2, [2])).toBe("2 waiting tasks are held by 1 task");
    expect(await summaryText(3112, [3000, 112])).toBe("3,112 waiting tasks are held by 2 tasks");
    i18n.global.locale.value = "es";
    expect(await summaryText(1, [1])).toBe("1 tarea en espera está retenida por 1 tarea");
    expect(await summaryText(5, [3, 2])).toBe("5 tareas en espera están retenidas por 2 tareas");
  });

  it("a root nobody started offers Run and Skip to whoever may operate the project, and Run runs it", async () => {
    const api = installFakeApi((a) => {
      a.user = { username: "rick", role: "releaser" };
      a.tasks = [makeTask(10, { status: "NOT_STARTED" })];
      a.blockers = { held: 2, roots: [{ ...root("10", 2), status: "NOT_STARTED" }], stages: [] };
    });
    const { wrapper } = await mountWithApp(RootBlockers, { path: "/rollouts/1" });
    await useRolloutStore().load("1");
    await vi.waitFor(() => expect(wrapper.find('[data-testid="blocker-run"]').exists()).toBe(true));
    expect(wrapper.find('[data-testid="blocker-skip"]').exists()).toBe(true);
    await wrapper.find('[data-testid="blocker-run"]').trigger("click");
    await vi.waitFor(() => expect(api.calls("POST", "/tasks/run")).toHaveLength(1));
    expect(api.calls("POST", "/tasks/run")[0]!.body).toMatchObject({ taskIds: ["10"] });
    wrapper.unmount();
  });

  it("a viewer sees the roots without actions (the server would refuse them)", async () => {
    installFakeApi((a) => {
      a.user = { username: "vera", role: "viewer" };
      a.blockers = { held: 1, roots: [root("10", 1)], stages: [] };
    });
    const { wrapper } = await mountWithApp(RootBlockers, { path: "/rollouts/1" });
    await useRolloutStore().load("1");
    await vi.waitFor(() => expect(wrapper.find(".root").exists()).toBe(true));
    expect(wrapper.find('[data-testid="blocker-actions"]').exists()).toBe(false);
    wrapper.unmount();
  });
});
