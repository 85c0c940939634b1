import { expect, test, uid } from "../common/fixtures.js";
import type { NewTask } from "../common/api.js";
import { createTargetDatabase } from "../common/target.js";

const version = (database: string, statement: string, schemaVersion: string): NewTask => ({
  type: "DATABASE_SCHEMA_UPDATE",
  instanceId: "local",
  database,
  statement,
  schemaVersion,
});

test.describe("what holds a chain", () => {
  test("its chain says BLOCKED_BY_FAILED in red, the rollout and stage say what is stuck, and Skip in the popover frees it", async ({
    page,
    signIn,
    env,
  }) => {
    const project = uid("chain");
    await env.admin.createProject(project, 0);
    // Its own database: version order spans rollouts, and other specs leave CANCELED versions on the shared one.
    const db = await createTargetDatabase(env.server.pgUrl, project.replace(/-/g, "_"));
    // Without the stage gate: prod's version waits on the chain, not on its stage (release-controls.spec covers that).
    const rolloutId = await env.admin.createRollout(
      project,
      "Chain",
      [
        { environment: "staging", tasks: [version(db, "SELECT 1/0", "0101"), version(db, "SELECT 1", "0102")] },
        { environment: "prod", tasks: [version(db, "SELECT 2", "0103")] },
      ],
      { stageOrder: "NONE" },
    );
    const [v1, v2, v3] = (await env.admin.tasks(rolloutId)).map((t) => t.id) as [string, string, string];
    await env.admin.run(rolloutId, [v1, v2, v3]);
    await expect
      .poll(async () => (await env.admin.tasks(rolloutId)).map((t) => t.latestRun?.waitingCause?.type ?? t.status), { timeout: 30_000 })
      .toEqual(["FAILED", "BLOCKED_BY_FAILED", "VERSION_ORDER"]);

    await signIn("rick");
    await page.goto(`/rollouts/${rolloutId}`);
    const badge = page.locator(`tr[data-task-id="${v2}"]`).getByTestId("waiting-cause");
    await expect(badge).toHaveAttribute("data-cause", "BLOCKED_BY_FAILED");
    await expect(badge).toHaveText(`Blocked: task #${v1} (version 0101) is Failed`);
    await expect(badge).toHaveCSS("color", "rgb(192, 32, 63)");

    // The rollout names the root and how many it holds; each stage counts its blocked tasks.
    const summary = page.getByTestId("root-blockers");
    await expect(summary).toContainText("2 waiting tasks are held by 1 task");
    await expect(summary.locator(`[data-task-id="${v1}"]`)).toHaveAttribute("data-status", "FAILED");
    await expect(page.getByTestId("stage-blocked")).toHaveCount(2);
    await expect(page.getByTestId("stage-blocked").first()).toHaveAttribute("data-blocked", "1");

    // Retry and Skip on the blocker, right in the badge's popover.
    await badge.hover();
    const tip = page.locator(".tip");
    await expect(tip.getByTestId("blocker-retry")).toBeVisible();
    await tip.getByTestId("blocker-skip").click();
    await expect(page.locator(`tr[data-task-id="${v1}"]`)).toContainText("Skipped");
    await expect(page.locator(`tr[data-task-id="${v3}"]`)).toContainText("Done", { timeout: 30_000 });
    await expect(summary).toHaveCount(0);
  });

  test("a version nobody started holds the next one from another rollout: Run in the summary frees it", async ({ page, signIn, env }) => {
    const project = uid("unrun");
    await env.admin.createProject(project, 0);
    const db = await createTargetDatabase(env.server.pgUrl, project.replace(/-/g, "_"));
    // Rollout A is created and left: its version 0201 holds B's 0202 on the same database (version order spans rollouts).
    const left = await env.admin.createRollout(project, "Left unrun", [{ environment: "prod", tasks: [version(db, "SELECT 1", "0201")] }]);
    const next = await env.admin.createRollout(project, "Next", [{ environment: "prod", tasks: [version(db, "SELECT 2", "0202")] }]);
    const [held] = (await env.admin.tasks(next)).map((t) => t.id) as [string];
    const [root] = (await env.admin.tasks(left)).map((t) => t.id) as [string];
    await env.admin.run(next, [held]);
    await expect
      .poll(async () => (await env.admin.tasks(next))[0]?.latestRun?.waitingCause?.type, { timeout: 30_000 })
      .toBe("VERSION_ORDER");

    await signIn("rick");
    await page.goto(`/rollouts/${next}`);
    const summary = page.getByTestId("root-blockers");
    await expect(summary.locator(`[data-task-id="${root}"]`)).toHaveAttribute("data-status", "NOT_STARTED");
    await expect(summary).toContainText(`in rollout #${left}`);
    await summary.getByTestId("blocker-run").click();
    await expect(page.locator(`tr[data-task-id="${held}"]`)).toContainText("Done", { timeout: 30_000 });
    await expect(summary).toHaveCount(0);
  });
});
