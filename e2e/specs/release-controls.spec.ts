import { TARGET_DB } from "../common/target.js";
import { expect, test, uid } from "../common/fixtures.js";

/** Release controls (issue 13) in the browser: a staged rollout held for an approval, and pause/resume. */

const data = (statement = "SELECT 1") => ({ type: "DATABASE_DATA_UPDATE" as const, instanceId: "local", database: TARGET_DB, statement });

test.describe("release controls", () => {
  test("a staged rollout: prod waits for staging, auto-runs, needs an approval by someone else, then runs", async ({
    page,
    signIn,
    env,
  }) => {
    const project = uid("staged");
    await env.admin.createProject(project, 0);
    await env.admin.call("PUT", `/projects/${project}/policies`, {
      circuitBreakerFailures: 0,
      environments: [{ environment: "prod", autoRun: true, approval: "releaser", approverNotCreator: true }],
    });
    const rolloutId = await env.admin.createRollout(project, "Staged", [
      { environment: "staging", tasks: [data()] },
      { environment: "prod", tasks: [data()] },
    ]);
    const [staging, prod] = await env.admin.tasks(rolloutId);

    await signIn("rick");
    await page.goto(`/rollouts/${rolloutId}`);
    const prodCard = page.locator(`[data-testid="stage-gate"][data-stage-id="${prod!.stageId}"]`);
    await expect(prodCard.getByTestId("stage-waiting-for")).toHaveText("Waiting for staging: 0 of 1 done");
    await expect(prodCard.getByTestId("stage-needs-approval")).toContainText("Needs approval by a Releaser");
    await expect(prodCard.getByTestId("stage-auto-run")).toBeVisible();

    // Staging runs; when it is done, prod's task is run without a click and waits for the approval.
    await env.admin.run(rolloutId, [staging!.id]);
    await expect(prodCard.getByTestId("stage-waiting-for")).toHaveCount(0);
    const prodRow = page.locator(`tr[data-task-id="${prod!.id}"]`);
    await expect(prodRow).toHaveAttribute("data-status", "PENDING");
    await expect(prodRow.getByTestId("waiting-cause")).toHaveAttribute("data-cause", "APPROVAL_REQUIRED");
    await expect(prodRow.getByTestId("waiting-cause")).toHaveText("Needs approval (Releaser)");

    await prodCard.getByTestId("stage-approve").click();
    const dialog = page.locator(".n-dialog");
    await dialog.getByTestId("stage-decision-comment").locator("textarea").fill("staging looks good");
    await dialog.getByRole("button", { name: "Approve" }).click();
    await expect(prodCard.getByTestId("stage-decision")).toContainText("Approved by rick");
    await expect(prodCard.getByTestId("stage-decision")).toContainText("staging looks good");
    await expect(prodRow).toHaveAttribute("data-status", "DONE");
  });

  test("pause holds new runs with a PAUSED badge; resume lets them run", async ({ page, signIn, env }) => {
    const project = uid("pause");
    await env.admin.createProject(project, 0);
    const rolloutId = await env.admin.createRollout(project, "Pausable", [{ environment: "prod", tasks: [data(), data()] }]);
    const tasks = await env.admin.tasks(rolloutId);

    await signIn("rick");
    await page.goto(`/rollouts/${rolloutId}`);
    await page.getByTestId("rollout-pause").click();
    const dialog = page.locator(".n-dialog");
    await dialog.getByTestId("pause-reason").locator("input").fill("error rate up");
    await dialog.getByRole("button", { name: "Pause" }).click();
    await expect(page.getByTestId("paused-banner")).toContainText("Paused by rick");
    await expect(page.getByTestId("paused-banner")).toContainText("error rate up");

    await env.admin.run(
      rolloutId,
      tasks.map((t) => t.id),
    );
    for (const t of tasks) {
      const row = page.locator(`tr[data-task-id="${t.id}"]`);
      await expect(row.getByTestId("waiting-cause")).toHaveAttribute("data-cause", "PAUSED");
      await expect(row.getByTestId("waiting-cause")).toHaveText("Paused by rick");
    }

    await page.getByTestId("rollout-resume").click();
    await expect(page.getByTestId("paused-banner")).toHaveCount(0);
    for (const t of tasks) await expect(page.locator(`tr[data-task-id="${t.id}"]`)).toHaveAttribute("data-status", "DONE");
  });

  test("project settings: an admin sets environment policies and the circuit breaker", async ({ page, signIn, env }) => {
    const project = uid("policies");
    await env.admin.createProject(project, 0);
    await signIn("admin");
    await page.goto(`/projects/${project}/settings`);
    const card = page.getByTestId("project-policies");
    await card.getByTestId("policy-add").click();
    await card.getByTestId("policy-environment").locator("input").fill("prod");
    await card.getByTestId("policy-auto-run").click();
    await card.getByTestId("policy-approval").click();
    await page.locator(".n-base-select-option", { hasText: "Admin" }).click();
    await card.getByTestId("policy-not-creator").click();
    await card.getByTestId("policy-breaker").locator("input").fill("3");
    await card.getByTestId("save-policies").click();
    await expect(page.getByText("Saved")).toBeVisible();
    await expect
      .poll(() => env.admin.call("GET", `/projects/${project}/policies`))
      .toEqual({
        circuitBreakerFailures: 3,
        environments: [{ environment: "prod", autoRun: true, approval: "admin", approverNotCreator: true }],
      });
  });
});
