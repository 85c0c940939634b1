import { describe, expect, it, vi } from "vitest";
import type { TaskRunSession } from "@/api/types";
import { installFakeApi, makeRun, makeTask } from "../../test/fake-api";
import { mountWithApp } from "../../test/mount";
import RunSessionPanel from "./run-session-panel.vue";

const view: TaskRunSession = {
  session: { pid: 4242, state: "active", waitEventType: "Lock", waitEvent: "relation", inStateMs: 65_000 },
  blockers: [
    {
      pid: 77,
      user: "alice",
      application: "psql",
      state: "idle in transaction",
      transactionAgeMs: 3_725_000,
      query: "LOCK TABLE accounts",
    },
  ],
  readAt: "2030-01-01T10:00:00Z",
};

/** The fake API plus GET /task-runs/{id}/session answered by `reply` (one call after another). */
function withSession(replies: { status: number; body: unknown }[]) {
  const api = installFakeApi((a) => (a.user = { username: "vera", role: "viewer" }));
  const calls: string[] = [];
  vi.stubGlobal("fetch", async (input: string | URL | Request, init?: RequestInit) => {
    const path = new URL(String(input), "http://localhost").pathname;
    if (!path.endsWith("/session")) return api.fetch(input, init);
    calls.push(path);
    const r = replies[Math.min(calls.length - 1, replies.length - 1)]!;
    return new Response(JSON.stringify(r.body), { status: r.status, headers: { "content-type": "application/json" } });
  });
  return calls;
}

const running = makeTask(5, { status: "RUNNING", latestRun: makeRun("5", { status: "RUNNING", startedAt: "2030-01-01T10:00:00Z" }) });

describe("run session panel", () => {
  it("shows the running task's session and who blocks it, and reads it again while open", async () => {
    const calls = withSession([
      { status: 200, body: view },
      { status: 200, body: { ...view, blockers: [] } },
    ]);
    const { wrapper } = await mountWithApp(RunSessionPanel, { props: { task: running } });
    await vi.waitFor(() => expect(wrapper.find('[data-testid="run-session-blockers"]').exists()).toBe(true));
    expect(calls[0]).toBe("/api/v1/task-runs/r5/session");
    expect(wrapper.find('[data-testid="run-session-wait"]').text()).toBe("Lock: relation");
    const target = wrapper.find('[data-testid="run-session-target"]').text();
    expect(target).toContain("4242");
    expect(target).toContain("1m 5s");
    const row = wrapper.find('[data-testid="run-session-blockers"] tr[data-pid="77"]').text();
    for (const part of ["alice", "psql", "1h 2m", "LOCK TABLE accounts"]) expect(row).toContain(part);
    // Refreshed every few seconds while mounted.
    await vi.waitFor(() => expect(wrapper.find('[data-testid="run-session-no-blockers"]').exists()).toBe(true), { timeout: 15_000 });
    expect(wrapper.text()).toContain("Nothing blocks this change.");
    wrapper.unmount();
  }, 30_000);

  it("says when the target cannot be read, and shows nothing for a task that is not running", async () => {
    withSession([
      { status: 502, body: { error: { code: "TARGET_UNREACHABLE", message: "x", details: { error: "connect ECONNREFUSED" } } } },
    ]);
    const { wrapper } = await mountWithApp(RunSessionPanel, { props: { task: running } });
    await vi.waitFor(() =>
      expect(wrapper.find('[data-testid="run-session-problem"]').text()).toBe("The target could not be read: connect ECONNREFUSED"),
    );
    wrapper.unmount();

    const calls = withSession([{ status: 200, body: view }]);
    const idle = await mountWithApp(RunSessionPanel, { props: { task: makeTask(6, { status: "DONE" }) } });
    expect(idle.wrapper.find('[data-testid="run-session"]').exists()).toBe(false);
    expect(calls).toEqual([]);
    idle.wrapper.unmount();
  });
});
