import { confirmAction } from "../common/dialog.js";
import type { Page } from "@playwright/test";
import { expect, PASSWORD, test, uid } from "../common/fixtures.js";

/**
 * Issue 11: the dashboard and the API docs work under the Content-Security-Policy the server sends, and
 * the "My API tokens" page (header, "API tokens") creates (90 days by default), lists and revokes tokens and
 * signs out everywhere.
 */

/** Records every CSP violation the page reports (the event fires for blocked scripts, styles, images, frames…). */
async function watchCsp(page: Page): Promise<() => Promise<string[]>> {
  const consoleViolations: string[] = [];
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) consoleViolations.push(m.text());
  });
  await page.addInitScript(() => {
    const w = window as unknown as { __csp: string[] };
    w.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => w.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return async () => [...consoleViolations, ...(await page.evaluate(() => (window as unknown as { __csp?: string[] }).__csp ?? []))];
}

test.describe("content security policy", () => {
  test("the dashboard runs under it without a single violation", async ({ page, env, signIn }) => {
    const violations = await watchCsp(page);
    const project = uid("csp");
    await env.admin.createProject(project, 2);
    const rolloutId = await env.admin.createRollout(project, "CSP check", [
      {
        environment: "staging",
        tasks: [{ type: "DATABASE_DATA_UPDATE", instanceId: "local", database: "postgres", statement: "SELECT 1" }],
      },
    ]);
    const res = await page.goto("/login");
    const csp = res!.headers()["content-security-policy"]!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    await signIn("admin");
    await page.goto(`/projects/${project}`);
    await page.goto(`/rollouts/${rolloutId}`);
    await expect(page.getByTestId("rollout-title")).toHaveText("CSP check");
    await expect(page.locator("[data-task-id]").first()).toBeVisible();
    // naive-ui's run-time <style> elements took effect (a styled button has a non-default background).
    await page.getByTestId("open-tokens").click();
    await expect(page.getByTestId("tokens-page")).toBeVisible();
    const bg = await page.getByTestId("token-create").evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(bg).not.toBe("rgba(0, 0, 0, 0)");
    expect(await violations()).toEqual([]);
  });

  test("the API docs (Swagger UI) render under it", async ({ page }) => {
    const violations = await watchCsp(page);
    await page.goto("/api/docs");
    await expect(page.locator(".swagger-ui .info .title")).toContainText("Runway API");
    await expect(page.locator(".opblock").first()).toBeVisible();
    expect(await violations()).toEqual([]);
  });
});

test.describe("My API tokens page", () => {
  test("creates a 90-day token shown once, lists it, revokes it, and signs out everywhere", async ({ page, env, signIn, request }) => {
    const username = uid("tok").replace(/-/g, ".");
    await env.admin.createUser(username, PASSWORD, "viewer");
    await signIn(username);
    // From the header, by keyboard: the link is a real link (/account/tokens).
    await page.getByTestId("open-tokens").focus();
    await page.keyboard.press("Enter");
    await expect(page).toHaveURL(/\/account\/tokens$/);
    const tokens = page.getByTestId("tokens-page");
    await expect(tokens.getByRole("heading", { name: "My API tokens" })).toBeVisible();
    await expect(tokens.getByTestId("token-none")).toBeVisible();
    await expect(tokens.getByTestId("token-expiry")).toContainText("90 days");
    await tokens.getByRole("textbox", { name: "Name" }).fill("laptop cli");
    await page.keyboard.press("Enter");
    // Shown once, focused, and announced.
    const secretInput = tokens.getByTestId("token-secret").locator("input");
    await expect(secretInput).toBeFocused();
    const secret = await secretInput.inputValue();
    expect(secret).toMatch(/^rwt_/);
    await expect(tokens.getByTestId("tokens-announcer")).toHaveText("Token “laptop cli” created");
    const row = tokens.getByTestId("token-row").filter({ hasText: "laptop cli" });
    await expect(row).toBeVisible();
    const expires = new Date(Date.now() + 90 * 24 * 3600 * 1000).toLocaleDateString("en-US", {
      month: "short",
      day: "numeric",
      year: "numeric",
      timeZone: "Europe/Madrid",
    });
    await expect(row.getByTestId("token-expires")).toContainText(expires.split(",")[0]!);
    await expect(row.getByTestId("token-last-used")).toHaveText("Not used yet");

    const me = await request.get("/api/v1/auth/me", { headers: { authorization: `Bearer ${secret}` } });
    expect(await me.json()).toMatchObject({ username, via: "token" });
    // Used once: the list says so after a reload, and the secret is gone for good.
    await page.reload();
    await expect(row.getByTestId("token-last-used")).not.toHaveText("Not used yet");
    await expect(tokens.getByTestId("token-secret")).toHaveCount(0);
    await expect(tokens).not.toContainText(secret);

    await row.getByRole("button", { name: "Revoke token laptop cli" }).click();
    await confirmAction(page);
    await expect(row).toHaveCount(0);
    expect((await request.get("/api/v1/auth/me", { headers: { authorization: `Bearer ${secret}` } })).status()).toBe(401);

    // A second token, then sign out everywhere: the page goes to sign-in and the token is dead.
    await tokens.getByTestId("token-name").locator("input").fill("ci");
    await tokens.getByTestId("token-create").click();
    const second = await tokens.getByTestId("token-secret").locator("input").inputValue();
    await tokens.getByTestId("sign-out-everywhere").click();
    await confirmAction(page);
    await expect(page).toHaveURL(/\/login/);
    expect((await request.get("/api/v1/auth/me", { headers: { authorization: `Bearer ${second}` } })).status()).toBe(401);
    await page.goto("/account/tokens");
    await expect(page).toHaveURL(/\/login/);
  });
});
