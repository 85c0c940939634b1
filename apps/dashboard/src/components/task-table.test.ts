import { describe, expect, it } from "vitest";
import type { Task } from "@/api/types";
import { installFakeApi, makeTask } from "../../test/fake-api";
import { mountWithApp } from "../../test/mount";
import TaskTable from "./task-table.vue";

async function table(tasks: Task[], props: Partial<{ checkedIds: string[]; canOperate: boolean }> = {}) {
  installFakeApi((a) => (a.user = { username: "admin", role: "admin" }));
  return mountWithApp(TaskTable, { props: { tasks, canOperate: true, checkedIds: [], ...props }, path: "/rollouts/1" });
}
const ids = (w: Awaited<ReturnType<typeof table>>["wrapper"]) => w.findAll("tr[data-task-id]").map((r) => r.attributes("data-task-id"));

describe("task table", () => {
  it("selects rows and, from the header, every task shown; a click elsewhere on a row opens it", async () => {
    const { wrapper } = await table([makeTask(1), makeTask(2), makeTask(3)], { checkedIds: ["9"] });
    await wrapper.find('tr[data-task-id="2"] [data-testid="select-task"]').setValue(true);
    await wrapper.find('[data-testid="select-all"]').setValue(true);
    expect(wrapper.emitted("update:checkedIds")).toEqual([[["9", "2"]], [["9", "1", "2", "3"]]]);
    await wrapper.setProps({ checkedIds: ["9", "1", "2", "3"] });
    expect((wrapper.find('[data-testid="select-all"]').element as HTMLInputElement).checked).toBe(true);
    await wrapper.find('[data-testid="select-all"]').setValue(false);
    expect(wrapper.emitted("update:checkedIds")!.at(-1)).toEqual([["9"]]);
    await wrapper.setProps({ checkedIds: ["1"] });
    expect((wrapper.find('[data-testid="select-all"]').element as HTMLInputElement).indeterminate).toBe(true);
    await wrapper.find('tr[data-task-id="3"] td[data-col-key="database"]').trigger("click");
    expect(wrapper.emitted("open")).toEqual([["3"]]);
    wrapper.unmount();
  });

  it("renders only the rows in view of a long list, and follows the scroll", async () => {
    const tasks = Array.from({ length: 10_000 }, (_, i) => makeTask(i + 1));
    const { wrapper } = await table(tasks, { canOperate: false });
    const first = ids(wrapper);
    expect(first[0]).toBe("1");
    expect(first.length).toBeGreaterThan(10);
    expect(first.length).toBeLessThan(40);
    const scroller = wrapper.find(".scroller").element as HTMLElement;
    scroller.scrollTop = 41 * 5000;
    await wrapper.find(".scroller").trigger("scroll");
    const later = ids(wrapper);
    expect(later).toContain("5001");
    expect(later.length).toBe(first.length + 5); // the overscan above it too
    expect(wrapper.findAll("input[type=checkbox]")).toHaveLength(0);
    wrapper.unmount();
  });
});
