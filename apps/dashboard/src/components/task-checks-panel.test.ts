import { describe, expect, it, vi } from "vitest";
import type { TaskChecks } from "@/api";
import { installFakeApi } from "../../test/fake-api";
import { mountWithApp } from "../../test/mount";
import TaskChecksPanel from "./task-checks-panel.vue";

/** The fake API plus GET /tasks/{id}/checks answered with `checks`. */
function withChecks(checks: TaskChecks) {
  const api = installFakeApi((a) => (a.user = { username: "rick", role: "releaser" }));
  vi.stubGlobal("fetch", async (input: string | URL | Request, init?: RequestInit) => {
    const path = new URL(String(input), "http://localhost").pathname;
    if (!path.endsWith("/checks")) return api.fetch(input, init);
    return new Response(JSON.stringify(checks), { status: 200, headers: { "content-type": "application/json" } });
  });
}

const base: TaskChecks = {
  taskId: "9",
  statement: "CREATE TABLE t900 (id int)",
  lint: null,
  dryRun: null,
  override: null,
  blocking: [],
};
const dryRun = {
  id: "3",
  status: "DONE" as const,
  requestedBy: "rick",
  createdAt: "2030-01-01T10:00:00Z",
  finishedAt: "2030-01-01T10:00:01Z",
};

describe("task checks panel", () => {
  it("a dry run of a version the database has says who applied it, not the server's English message", async () => {
    withChecks({
      ...base,
      dryRun: {
        ...dryRun,
        outcome: "PASSED",
        durationMs: 2,
        alreadyApplied: true,
        byTask: "12",
        message: "version 0900 is already applied …",
      },
    });
    const { wrapper } = await mountWithApp(TaskChecksPanel, { props: { taskId: "9", canOperate: true } });
    await vi.waitFor(() => expect(wrapper.find('[data-testid="dry-run-applied"]').exists()).toBe(true));
    expect(wrapper.find('[data-testid="dry-run-applied"]').text()).toBe(
      "Already applied on this database by task 12: its run will not apply it again, so nothing was tried",
    );
    expect(wrapper.find('[data-testid="dry-run-result"]').attributes("data-outcome")).toBe("PASSED");
    expect(wrapper.text()).not.toContain("Rows affected");
    wrapper.unmount();
  });

  it("a dry run that ran shows its rows per statement and its message", async () => {
    withChecks({
      ...base,
      dryRun: { ...dryRun, outcome: "PASSED", durationMs: 2, rowsAffected: [0, 3], message: "would affect 3 row(s)" },
    });
    const { wrapper } = await mountWithApp(TaskChecksPanel, { props: { taskId: "9", canOperate: true } });
    await vi.waitFor(() => expect(wrapper.text()).toContain("Rows affected per statement: 0, 3"));
    expect(wrapper.find('[data-testid="dry-run-applied"]').exists()).toBe(false);
    wrapper.unmount();
  });
});
