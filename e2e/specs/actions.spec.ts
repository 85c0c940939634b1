import { closeOutcome, confirmAction } from "../common/dialog.js";
import { expect, test, uid } from "../common/fixtures.js";
import type { NewTask } from "../common/api.js";
import { TARGET_DB } from "../common/target.js";

const task = (statement: string, database = TARGET_DB): NewTask => ({
  type: "DATABASE_DATA_UPDATE",
  instanceId: "local",
  database,
  statement,
});

test.describe("task actions", () => {
  test("run a task at a future time and see its RUN_AT badge; a past time is refused", async ({ page, signIn, env }) => {
    const project = uid("sched");
    await env.admin.createProject(project, 0);
    const rolloutId = await env.admin.createRollout(project, "Scheduled", [{ environment: "prod", tasks: [task("SELECT 1")] }]);
    const [t] = await env.admin.tasks(rolloutId);
    await signIn("rick");
    await page.goto(`/rollouts/${rolloutId}`);
    const row = page.locator(`tr[data-task-id="${t!.id}"]`);
    await row.getByTestId("row-action-run").click();
    await page.getByTestId("run-mode-schedule").click();
    const input = page.getByTestId("run-at").locator("input");

    // One hour ago: not accepted (the date picker refuses it or the confirmation stays disabled).
    const past = await page.evaluate(() => fmt(new Date(Date.now() - 3600_000)));
    await input.fill(past);
    await input.press("Enter");
    await expect(page.getByTestId("confirm-action")).toBeDisabled();

    const future = await page.evaluate(() => fmt(new Date(Date.now() + 2 * 3600_000 + 5 * 60_000)));
    await input.fill(future);
    await input.press("Enter");
    await expect(page.getByTestId("confirm-line").first()).toContainText("1 task will be queued to run at");
    await confirmAction(page);
    await expect(page.getByTestId("outcome-report").locator(`[data-task-id="${t!.id}"]`)).toContainText("Run created");
    await closeOutcome(page);

    const hhmm = await page.evaluate(
      (s) => new Intl.DateTimeFormat("en", { hour: "2-digit", minute: "2-digit" }).format(new Date(s.replace(" ", "T"))),
      future,
    );
    const badge = row.getByTestId("waiting-cause");
    await expect(badge).toHaveAttribute("data-cause", "RUN_AT");
    await expect(badge).toContainText("Scheduled for");
    await expect(badge).toContainText("(in 2 hours)");
    if (await page.evaluate((s) => new Date(s.replace(" ", "T")).toDateString() === new Date().toDateString(), future)) {
      await expect(badge).toHaveText(`Scheduled for ${hhmm} (in 2 hours)`);
    }
    await env.admin.cancelAll(rolloutId);
  });

  test("bulk run on a selection, a failure shows PostgreSQL's error, and retry starts attempt 2", async ({ page, signIn, env }) => {
    const project = uid("bulk");
    await env.admin.createProject(project, 0);
    const rolloutId = await env.admin.createRollout(project, "Bulk", [
      { environment: "prod", tasks: [task("SELECT 1"), task("SELECT 2"), task("SELECT 1/0")] },
    ]);
    const [a, b, c] = (await env.admin.tasks(rolloutId)).map((t) => t.id) as [string, string, string];
    await signIn("rick");
    await page.goto(`/rollouts/${rolloutId}`);
    for (const id of [a, b, c]) await page.locator(`tr[data-task-id="${id}"]`).getByTestId("select-task").click();
    await expect(page.getByTestId("bulk-action-run")).toContainText("(3)");
    await expect(page.getByTestId("bulk-action-cancel")).toBeDisabled();
    await page.getByTestId("bulk-action-run").click();
    await expect(page.getByTestId("confirm-line").first()).toContainText("3 tasks will be queued to run now");
    await confirmAction(page);
    await expect(page.getByTestId("outcome-row")).toHaveCount(3);
    await expect(page.getByTestId("outcome-summary")).toContainText("3 of 3 changed");
    await closeOutcome(page);

    await expect(page.locator(`tr[data-task-id="${a}"]`)).toHaveAttribute("data-status", "DONE");
    await expect(page.locator(`tr[data-task-id="${c}"]`)).toHaveAttribute("data-status", "FAILED");
    await page.locator(`tr[data-task-id="${c}"] td[data-col-key="id"]`).click();
    const drawer = page.getByTestId("task-drawer");
    await expect(drawer.getByTestId("run-error")).toContainText("division by zero");

    await page.keyboard.press("Escape");
    await page.locator(`tr[data-task-id="${c}"]`).getByTestId("row-action-retry").click();
    await expect(page.getByTestId("confirm-dialog")).toContainText("1 failed or canceled task will run again as a new attempt.");
    await confirmAction(page);
    await expect(page.getByTestId("outcome-report").locator(`[data-task-id="${c}"]`)).toContainText("Run created");
    await closeOutcome(page);
    await page.locator(`tr[data-task-id="${c}"] td[data-col-key="id"]`).click();
    await expect(page.getByTestId("task-drawer")).toContainText("Attempt 2");
  });

  test("skip asks for a reason and shows it", async ({ page, signIn, env }) => {
    const project = uid("skip");
    await env.admin.createProject(project, 0);
    const rolloutId = await env.admin.createRollout(project, "Skip", [{ environment: "prod", tasks: [task("SELECT 1")] }]);
    const [t] = await env.admin.tasks(rolloutId);
    await signIn("rick");
    await page.goto(`/rollouts/${rolloutId}`);
    await page.locator(`tr[data-task-id="${t!.id}"]`).getByTestId("row-action-skip").click();
    await expect(page.getByTestId("confirm-action")).toBeDisabled();
    await page.getByTestId("skip-reason").locator("input").fill("applied by hand");
    await confirmAction(page);
    await expect(page.getByTestId("outcome-report")).toContainText("Skipped");
    await closeOutcome(page);
    await expect(page.locator(`tr[data-task-id="${t!.id}"]`)).toHaveAttribute("data-status", "SKIPPED");
    await page.locator(`tr[data-task-id="${t!.id}"] td[data-col-key="id"]`).click();
    await expect(page.getByTestId("skip-reason-text")).toContainText("applied by hand");
  });
});

declare global {
  function fmt(d: Date): string;
}

test.beforeEach(async ({ page }) => {
  // The date picker's text format (yyyy-MM-dd HH:mm:ss), in the browser's time zone.
  await page.addInitScript(() => {
    const p = (n: number) => String(n).padStart(2, "0");
    (globalThis as unknown as { fmt: (d: Date) => string }).fmt = (d: Date) =>
      `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:00`;
  });
});
