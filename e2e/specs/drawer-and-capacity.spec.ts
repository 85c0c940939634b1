import { closeOutcome, confirmAction } from "../common/dialog.js";
import { expect, test, uid } from "../common/fixtures.js";
import { usePreferences } from "../common/a11y.js";
import type { NewTask } from "../common/api.js";
import { TARGET_DB } from "../common/target.js";

const task = (statement: string): NewTask => ({ type: "DATABASE_DATA_UPDATE", instanceId: "local", database: TARGET_DB, statement });

/**
 * Issue 14 points 4 and 6, in Spanish: a FAILED task's drawer tells its run's life as translated events with
 * the failure in red, offers Retry in its header (not to a viewer), and the retried task — AVAILABLE while
 * the only executor slot (RUNWAY_CONCURRENCY=1) runs a long task — says it waits for a free executor.
 */
test.describe("task drawer and executor capacity", () => {
  test("translated events, the failure in red, Retry from the drawer's header, waiting for a free executor", async ({
    page,
    signIn,
    env,
  }) => {
    const project = uid("drawer");
    await env.admin.createProject(project, 0);
    const rolloutId = await env.admin.createRollout(project, "Drawer", [
      { environment: "prod", tasks: [task("SELECT 1/0"), task("SELECT pg_sleep(600)")] },
    ]);
    const [failing, long] = (await env.admin.tasks(rolloutId)).map((t) => t.id) as [string, string];
    const statusOf = async (id: string) => (await env.admin.tasks(rolloutId)).find((t) => t.id === id)?.status;
    try {
      await env.admin.run(rolloutId, [failing]);
      await expect.poll(() => statusOf(failing), { timeout: 60_000 }).toBe("FAILED");
      // The long task takes the only slot.
      await env.admin.run(rolloutId, [long]);
      await expect.poll(() => statusOf(long), { timeout: 60_000 }).toBe("RUNNING");

      await usePreferences(page, "es", "light");
      // A viewer reads the same drawer without any action.
      await signIn("vera");
      await page.goto(`/rollouts/${rolloutId}?task=${failing}`);
      const drawer = page.getByTestId("task-drawer");
      const events = drawer.getByTestId("log-event");
      // Requested and claimed: one entry when the only slot was free as the run was created (the create
      // claimed it for the replica), two when the slot was still being given back by an earlier test's run.
      await expect
        .poll(async () => {
          const texts = (await events.allTextContents()).map((x) => x.trim());
          const atOnce = texts.filter((x) => /^Solicitada por admin y tomada al momento por la réplica \S+ \(época \d+\)$/.test(x));
          const apart = texts.filter((x) => x === "Solicitada por admin" || /^Tomada por la réplica \S+ \(época \d+\)$/.test(x));
          return atOnce.length === 1 ? "at once" : apart.length === 2 ? "apart" : texts.join(" | ");
        })
        .toMatch(/^(at once|apart)$/);
      const failure = events.filter({ hasText: "Falló (22012): division by zero" });
      await expect(failure).toHaveAttribute("data-tone", "error");
      // Red: the theme's FAILED colour (4.5:1 or more; the a11y spec measures it in dark mode too).
      await expect(failure).toHaveCSS("color", "rgb(193, 31, 63)");
      // No raw English status text.
      await expect(drawer).not.toContainText("claimed by");
      await expect(drawer.getByTestId("drawer-action-retry")).toHaveCount(0);
      // The header says the one slot is busy.
      await expect(page.getByTestId("executor-capacity")).toHaveText("Ejecutores 1/1 ocupados");
      await expect(page.getByTestId("executor-capacity")).toHaveAttribute("data-all-busy", "true");
      await page.keyboard.press("Escape");
      await expect(drawer).toHaveCount(0);
      await page.getByTestId("sign-out").click();

      await signIn("rick");
      await page.goto(`/rollouts/${rolloutId}?task=${failing}`);
      const retry = drawer.getByTestId("drawer-action-retry");
      await expect(retry).toHaveAccessibleName(`Reintentar la tarea #${failing}`);
      await expect(retry).toHaveText("Reintentar");
      // Only the actions its status allows: a FAILED task can be retried or skipped, not run or canceled.
      await expect(drawer.getByTestId("drawer-action-skip")).toBeVisible();
      await expect(drawer.getByTestId("drawer-action-cancel")).toHaveCount(0);
      await expect(drawer.getByTestId("drawer-action-run")).toHaveCount(0);

      // By keyboard, confirmed like the table's row action.
      await retry.focus();
      await page.keyboard.press("Enter");
      const confirm = page.getByTestId("confirm-dialog").last();
      await expect(confirm.getByTestId("confirm-line")).toHaveText([/1 /]);
      await confirmAction(page);
      await expect(page.getByTestId("outcome-summary")).toContainText("1");
      await closeOutcome(page);

      // Retried: AVAILABLE, and the only slot is still busy with the long task.
      const row = page.locator(`tr[data-task-id="${failing}"]`);
      await expect(row).toHaveAttribute("data-status", "AVAILABLE", { timeout: 30_000 });
      await expect(row.getByTestId("executor-wait")).toHaveText("Esperando un ejecutor libre");
      await expect(drawer.getByTestId("executor-wait")).toHaveText("Esperando un ejecutor libre");
      // The new attempt heads the drawer's runs; a task that may no longer be retried offers Cancel instead.
      await expect(drawer.getByTestId("drawer-action-cancel")).toBeVisible();
      await expect(drawer.getByTestId("drawer-action-retry")).toHaveCount(0);
      // The running task's row says nothing of the sort.
      await expect(page.locator(`tr[data-task-id="${long}"]`).getByTestId("executor-wait")).toHaveCount(0);
    } finally {
      await env.admin.cancelAll(rolloutId);
    }
  });
});
