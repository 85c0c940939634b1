import { closeOutcome, confirmAction } from "../common/dialog.js";
import { expect, test, uid } from "../common/fixtures.js";
import type { NewTask } from "../common/api.js";
import { TARGET_DB } from "../common/target.js";

const task = (statement: string): NewTask => ({ type: "DATABASE_DATA_UPDATE", instanceId: "local", database: TARGET_DB, statement });

test.describe("an honest selection", () => {
  test("a filtered selection says what it hides, counts per chip, acts on the filter, and rows hold still", async ({
    page,
    signIn,
    env,
  }) => {
    const project = uid("select");
    await env.admin.createProject(project, 1);
    const rolloutId = await env.admin.createRollout(project, "Selection", [
      { environment: "prod", tasks: [task("SELECT pg_sleep(600)"), ...Array.from({ length: 6 }, () => task("SELECT 1"))] },
    ]);
    const ids = (await env.admin.tasks(rolloutId)).map((t) => t.id);
    const [long, p1, p2, ...notStarted] = ids as [string, string, string, ...string[]];
    await env.admin.run(rolloutId, [long]);
    await expect.poll(async () => (await env.admin.tasks(rolloutId))[0]?.status, { timeout: 30_000 }).toBe("RUNNING");
    await env.admin.run(rolloutId, [p1, p2]); // held by the limit of 1: PENDING

    await signIn("rick");
    await page.goto(`/rollouts/${rolloutId}`);
    await expect(page.locator(`tr[data-task-id="${p2}"]`)).toHaveAttribute("data-status", "PENDING");
    for (const id of [p1, p2]) await page.locator(`tr[data-task-id="${id}"]`).getByTestId("select-task").click();
    await expect(page.getByTestId("chip-PENDING").getByTestId("chip-selected")).toHaveText("2 selected");

    // Filter to Not started: the two PENDING ones are selected but hidden, and the bar says so.
    await page.getByTestId("chip-NOT_STARTED").click();
    await expect(page.getByTestId("selection-hidden")).toContainText("2 not shown");
    await page.getByTestId("selection-clear-hidden").click();
    await expect(page.getByTestId("bulk-actions")).toHaveCount(0);

    // Everything matching the filter, sent as the filter.
    await page.locator(`tr[data-task-id="${notStarted[0]}"]`).getByTestId("select-task").click();
    await page.getByTestId("select-all-matching").click();
    await expect(page.getByTestId("selection-count")).toContainText("All 4 tasks matching the filter selected");
    const sent = page.waitForRequest((r) => r.url().endsWith("/tasks/bulk") && !(r.postDataJSON() as { dryRun?: boolean }).dryRun);
    await page.getByTestId("bulk-action-skip").click();
    await page.getByTestId("skip-reason").locator("input").fill("not needed");
    await confirmAction(page);
    expect((await sent).postDataJSON()).toMatchObject({ action: "skip", filter: { status: ["NOT_STARTED"] } });
    await expect(page.getByTestId("outcome-row")).toHaveCount(4);
    await closeOutcome(page);

    // While a selection exists, live changes wait behind "N changes — apply".
    await page.getByTestId("chip-ALL").click();
    await page.locator(`tr[data-task-id="${p1}"]`).getByTestId("select-task").click();
    await env.admin.cancelAll(rolloutId);
    await expect(page.getByTestId("apply-held")).toBeVisible({ timeout: 30_000 });
    await expect(page.locator(`tr[data-task-id="${p2}"]`)).toHaveAttribute("data-status", "PENDING");
    await page.getByTestId("apply-held").click();
    await expect(page.locator(`tr[data-task-id="${p2}"]`)).toHaveAttribute("data-status", "CANCELED");
  });
});
