import { expectAccessible } from "../common/a11y.js";
import { expect, test, uid } from "../common/fixtures.js";
import { TARGET_DB } from "../common/target.js";

/**
 * A rollout from pasted SQL, through the dialog: statements the server refuses (a syntax error, transaction
 * control) are named by their place in the text, once each however many databases; fixed, it is created.
 */
test("pasted SQL: refused statements named with line and column; fixed, the rollout is created", async ({ page, signIn, env }) => {
  const projectId = uid("sql");
  await env.admin.createProject(projectId, 0);
  await signIn("rick");
  await page.goto(`/projects/${projectId}/rollouts`);
  await page.getByTestId("new-rollout-from-sql").click();
  await page.getByTestId("new-rollout-title").locator("input").fill("Pasted");
  // Two databases: each gets every statement, yet each refused statement is said once.
  await page.getByTestId("new-rollout-databases").locator("input").fill(`${TARGET_DB} other_db`);
  const sql = page.getByTestId("new-rollout-sql").locator("textarea");
  await sql.fill("CREATE TABLE pasted_a (id int);\nALTER TABEL pasted_a ADD COLUMN b text;\nCOMMIT");
  await page.getByTestId("create-rollout").click();

  const alert = page.getByTestId("statement-refusals");
  await expect(alert).toContainText("2 statements cannot run.");
  await expect(alert.getByTestId("statement-refusal")).toHaveText([
    'Statement 2, line 2, column 7: PostgreSQL cannot parse it (syntax error at or near "TABEL").',
    /^Statement 3, line 3, column 1: COMMIT begins, commits or ends a transaction\./,
  ]);
  await expectAccessible(page, "create-rollout dialog, statements refused");
  await expect(page).toHaveURL(new RegExp(`/projects/${projectId}/rollouts$`));

  await sql.fill("CREATE TABLE pasted_a (id int);\nALTER TABLE pasted_a ADD COLUMN b text");
  await page.getByTestId("create-rollout").click();
  await expect(page).toHaveURL(/\/rollouts\/\d+$/);
  await expect(page.locator("tr[data-task-id]")).toHaveCount(4);
});
