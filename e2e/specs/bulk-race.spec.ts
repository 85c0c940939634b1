import { closeOutcome, confirmAction } from "../common/dialog.js";
import { expect, test, uid } from "../common/fixtures.js";
import type { NewTask } from "../common/api.js";
import { TARGET_DB } from "../common/target.js";

const task = (statement: string): NewTask => ({ type: "DATABASE_DATA_UPDATE", instanceId: "local", database: TARGET_DB, statement });

test.describe("bulk actions while tasks move", () => {
  test("a bulk cancel racing with a finishing task: recounted on confirm, best-effort per task, every task in the results", async ({
    page,
    signIn,
    env,
  }) => {
    const project = uid("race");
    await env.admin.createProject(project, 0);
    // One executor slot (RUNWAY_CONCURRENCY=1): `quick` runs first and finishes while the dialog is open.
    const rolloutId = await env.admin.createRollout(project, "Race", [
      { environment: "prod", tasks: [task("SELECT pg_sleep(30)"), task("SELECT pg_sleep(600)"), task("SELECT pg_sleep(600)")] },
    ]);
    const [quick, b, c] = (await env.admin.tasks(rolloutId)).map((t) => t.id) as [string, string, string];
    await signIn("rick");
    await page.goto(`/rollouts/${rolloutId}`);
    await env.admin.run(rolloutId, [quick]);
    await expect(page.locator(`tr[data-task-id="${quick}"]`)).toHaveAttribute("data-status", "RUNNING");
    await env.admin.run(rolloutId, [b, c]);
    await expect(page.locator(`tr[data-task-id="${c}"]`)).toHaveAttribute("data-status", "AVAILABLE");

    await page.getByTestId("select-all").click();
    await page.getByTestId("bulk-action-cancel").click();
    // Counted by the server when the dialog opens: 2 waiting, 1 running.
    await expect(page.getByTestId("confirm-line")).toHaveText([/2 .*cancel/i, /1 .*abort/i]);
    await expect.poll(async () => (await env.admin.tasks(rolloutId)).find((t) => t.id === quick)?.status, { timeout: 60_000 }).toBe("DONE");
    await expect.poll(async () => (await env.admin.tasks(rolloutId)).find((t) => t.id === b)?.status, { timeout: 30_000 }).toBe("RUNNING");
    await confirmAction(page);
    // Counted again on confirm: the numbers moved, so the user sees them before anything happens.
    // (The first dialog may still be fading out: the recounted one is the last, and the only one confirmable.)
    const recounted = page.getByTestId("confirm-dialog").last();
    await expect(recounted).toContainText("The numbers changed");
    await expect(recounted.getByTestId("confirm-line")).toContainText([/numbers changed/, /1 .*cancel/i, /1 .*abort/i, /1 /]);
    await confirmAction(page);

    const report = page.getByTestId("outcome-report");
    await expect(page.getByTestId("outcome-row")).toHaveCount(3);
    await expect(report.locator(`[data-task-id="${quick}"]`)).toContainText("Not allowed now: the task is Done");
    await expect(report.locator(`[data-task-id="${b}"] [data-outcome]`)).toHaveAttribute("data-outcome", "CANCEL_REQUESTED");
    await expect(report.locator(`[data-task-id="${c}"] [data-outcome]`)).toHaveAttribute("data-outcome", "CANCELED");
    await expect(page.getByTestId("outcome-summary")).toContainText("2 of 3 changed");
    await closeOutcome(page);
    await expect(page.locator(`tr[data-task-id="${b}"]`)).toHaveAttribute("data-status", "CANCELED", { timeout: 30_000 });
  });
});
