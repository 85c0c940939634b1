import { confirmAction } from "../common/dialog.js";
import { expect, test, uid } from "../common/fixtures.js";
import { TARGET_DB } from "../common/target.js";

/**
 * Checks before a change runs (issue 15): a risky statement shows its lint warning in the table and the
 * drawer (the offending part highlighted), "Check all" dry-runs it on the target, and under the project's
 * "require a passing dry run" policy its run request is refused, naming the task and the failing check.
 */
test.describe("checks", () => {
  test("a risky statement: warning, dry run, refused under the policy", async ({ page, signIn, env }) => {
    const project = uid("checks");
    await env.admin.createProject(project, 0);
    await env.admin.call("PATCH", `/projects/${project}/check-policy`, { requireDryRun: true });
    const table = `e2e_missing_${Date.now().toString(36)}`;
    const statement = `CREATE INDEX ${table}_idx ON ${table} (id)`;
    const rolloutId = await env.admin.createRollout(project, "Risky", [
      {
        environment: "prod",
        tasks: [
          { type: "DATABASE_SCHEMA_UPDATE", instanceId: "local", database: TARGET_DB, statement, schemaVersion: "0001" },
          { type: "DATABASE_DATA_UPDATE", instanceId: "local", database: TARGET_DB, statement: "SELECT 1" },
        ],
      },
    ]);
    const [risky, safe] = (await env.admin.tasks(rolloutId)).map((t) => t.id) as [string, string];

    await signIn("rick");
    await page.goto(`/rollouts/${rolloutId}`);
    const row = page.locator(`tr[data-task-id="${risky}"]`);
    await expect(row.getByTestId("checks-cell")).toHaveAttribute("data-severity", "warning");
    await expect(page.locator(`tr[data-task-id="${safe}"]`).getByTestId("checks-cell")).toHaveAttribute("data-severity", "none");
    await expect(page.getByTestId("checks-policy")).toContainText("A passing dry run is required");

    // The Checks chip keeps only the flagged task.
    await page.getByTestId("chip-CHECKS").click();
    await expect(page.locator("tr[data-task-id]")).toHaveCount(1);
    await page.getByTestId("chip-CHECKS").click();
    await expect(page.locator("tr[data-task-id]")).toHaveCount(2);

    // The drawer: the finding, with the statement's offending part highlighted.
    await row.locator('td[data-col-key="id"]').click();
    const drawer = page.getByTestId("task-drawer");
    const finding = drawer.locator('[data-testid="finding"][data-rule="require-concurrent-index-creation"]');
    await expect(finding).toContainText("Warning");
    await finding.click();
    await expect(drawer.getByTestId("finding-mark")).toHaveText(statement);
    await expect(drawer.getByTestId("dry-run-result")).toHaveAttribute("data-outcome", "NONE");
    await expect(drawer.getByTestId("checks-blocking")).toContainText("no passing dry run");
    await page.keyboard.press("Escape");

    // Check all: the dry runs run on the target; the missing table fails the risky one.
    await page.getByTestId("check-all").click();
    await expect(row.getByTestId("checks-cell")).toHaveAttribute("title", /Dry run failed/);
    await row.locator('td[data-col-key="id"]').click();
    await expect(drawer.getByTestId("dry-run-result")).toHaveAttribute("data-outcome", "FAILED");
    await expect(drawer.getByTestId("dry-run-result")).toContainText("42P01");
    await page.keyboard.press("Escape");

    // Refused under the policy, naming the task and its failing check.
    await row.getByTestId("row-action-run").click();
    await confirmAction(page);
    const refused = page.getByTestId("outcome-report").locator(`[data-testid="outcome-row"][data-task-id="${risky}"]`);
    await expect(refused).toContainText("The project's check policy refuses to run this task: the dry run failed");
    await expect(page.locator(`tr.row[data-task-id="${risky}"]`)).toHaveAttribute("data-status", "NOT_STARTED");
  });
});
