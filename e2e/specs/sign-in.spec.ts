import { ADMIN_PASSWORD } from "../common/server.js";
import { expect, test, uid } from "../common/fixtures.js";

test.describe("sign-in", () => {
  test("an unknown visitor is sent to sign in, and a wrong password is refused", async ({ page }) => {
    await page.goto("/projects");
    await expect(page).toHaveURL(/\/login\?redirect=/);
    await page.getByTestId("username").locator("input").fill("admin");
    await page.getByTestId("password").locator("input").fill("not-the-password");
    await page.getByTestId("sign-in").click();
    await expect(page.getByTestId("login-error")).toContainText("Wrong username or password");
  });

  test("admin signs in, sees projects, and signs out", async ({ page, env }) => {
    const project = uid("signin");
    await env.admin.createProject(project, 2);
    await page.goto(`/projects`);
    await page.getByTestId("username").locator("input").fill("admin");
    await page.getByTestId("password").locator("input").fill(ADMIN_PASSWORD);
    await page.getByTestId("sign-in").click();
    await expect(page).toHaveURL(/\/projects$/);
    await expect(page.getByTestId("signed-in-as")).toContainText("admin");
    await expect(page.locator(`[data-project-id="${project}"]`)).toBeVisible();
    await page.getByTestId("sign-out").click();
    await expect(page).toHaveURL(/\/login/);
    // The session is gone on the server too: a protected page sends us back to sign in.
    await page.goto("/projects");
    await expect(page).toHaveURL(/\/login/);
  });
});
