import { ADMIN_PASSWORD } from "../common/server.js";
import { expect, test, uid } from "../common/fixtures.js";

test.describe("sign-in", () => {
  test("an unknown visitor is sent to sign in, and a wrong password is refused", async ({ page }) => {
    await page.goto("/projects");
    await expect(page).toHaveURL(/\/login\?redirect=/);
    await page.getByTestId("username").locator("input").fill("admin");
    await page.getByTestId("password").locator("input").fill("not-the-password");
    // The button and Enter in the password field each ask the server once (the form's submit, no twin).
    const logins: string[] = [];
    page.on("request", (r) => r.url().endsWith("/api/v1/auth/login") && logins.push(r.method()));
    const answered = () => page.waitForResponse((r) => r.url().endsWith("/api/v1/auth/login"));
    let answer = answered();
    await page.getByTestId("sign-in").click();
    await answer;
    await expect(page.getByTestId("login-error")).toContainText("Wrong username or password");
    answer = answered();
    await page.getByTestId("password").locator("input").press("Enter");
    await answer;
    // A twin would be sent in the same tick as the first: the list of every /api request the page made
    // after both answers has none.
    await page.evaluate(() => fetch("/api/v1/auth/me"));
    expect(logins).toEqual(["POST", "POST"]);
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
