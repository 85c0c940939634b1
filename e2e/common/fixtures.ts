import { expect, test as base, type Page, type Request } from "@playwright/test";
import { Api } from "./api.js";
import { ADMIN_PASSWORD, startServer, type RunningServer } from "./server.js";
import { prepareTarget } from "./target.js";

export const PASSWORD = "e2e-password-1";

export interface Env {
  server: RunningServer;
  /** Admin API client, plus an instance (`local`: common/target.ts on the embedded PostgreSQL) and users viewer/releaser. */
  admin: Api;
}

/**
 * One real server per worker. RUNWAY_CONCURRENCY=1: a replica runs one task at a time, so with a long
 * task RUNNING, the tasks the parallel limit lets through stay AVAILABLE long enough to look at.
 */
export const test = base.extend<{ signIn: (username: string, password?: string) => Promise<Page> }, { env: Env }>({
  env: [
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      const server = await startServer({ RUNWAY_CONCURRENCY: "1" });
      try {
        const admin = await Api.signIn(server.url, "admin", ADMIN_PASSWORD);
        await admin.createInstance("local", await prepareTarget(server.pgUrl));
        await admin.createUser("vera", PASSWORD, "viewer");
        await admin.createUser("rick", PASSWORD, "releaser");
        await use({ server, admin });
      } finally {
        await server.stop();
      }
    },
    { scope: "worker", timeout: 240_000 },
  ],
  baseURL: async ({ env }, use) => use(env.server.url),
  // On failure, keep what the server said meanwhile and what the page logged.
  page: async ({ page, env }, use, testInfo) => {
    const from = env.server.log().length;
    const consoleLines: string[] = [];
    page.on("console", (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
    // What the dashboard threw or logged as an error, other than a request's failure (a 401 before sign-in, a
    // stopped server: what tests provoke and the page handles): a passing test fails on it. A message vue-i18n
    // could not compile broke a form that way, the page otherwise working.
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(`uncaught: ${e.stack ?? e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) pageErrors.push(`console.error: ${m.text()}`);
    });
    page.on("response", (r) => r.status() >= 400 && consoleLines.push(`[http ${r.status()}] ${r.request().method()} ${r.url()}`));
    // Every API request with when it started and how long it took (s since the test began). The report
    // prints 300 characters of an attachment: the unanswered ones get their own, then the last ones.
    const t0 = Date.now();
    const secs = (ms: number) => (ms / 1000).toFixed(1);
    const requests = new Map<Request, { at: number; what: string; end?: string }>();
    page.on("request", (r) => {
      const url = new URL(r.url());
      if (url.pathname.startsWith("/api/"))
        requests.set(r, { at: Date.now(), what: `${r.method()} ${url.pathname.slice(7)}${url.search ? "?…" : ""}` });
    });
    const ended = (r: Request, how: string) => {
      const e = requests.get(r);
      if (e) e.end = `${how} in ${secs(Date.now() - e.at)}`;
    };
    page.on("requestfinished", (r) => void r.response().then((res) => ended(r, String(res?.status() ?? "?"))));
    page.on("requestfailed", (r) => ended(r, `failed (${r.failure()?.errorText ?? "?"})`));
    await use(page);
    if (testInfo.status === testInfo.expectedStatus && pageErrors.length > 0)
      throw new Error(`the page reported errors:\n${pageErrors.map((e) => e.slice(0, 600)).join("\n")}`);
    if (testInfo.status !== testInfo.expectedStatus) {
      await testInfo.attach("server.log", { body: env.server.log().slice(from) || "(nothing)", contentType: "text/plain" });
      const line = (e: { at: number; what: string; end?: string }) =>
        `${secs(e.at - t0)} ${e.what} ${e.end ?? `open ${secs(Date.now() - e.at)}`}`;
      const all = [...requests.values()];
      const open = all.filter((e) => !e.end && !e.what.startsWith("GET events"));
      await testInfo.attach("api-unanswered.txt", { body: open.map(line).join("\n") || "(none)", contentType: "text/plain" });
      await testInfo.attach("api-last.txt", { body: all.slice(-6).map(line).join("\n") || "(none)", contentType: "text/plain" });
      // Whether the page still runs: an animation frame within 2 s (a stalled renderer leaves a closed
      // dialog on screen and requests unsent), and what is open.
      const state = await Promise.race([
        page.evaluate(async () => {
          const t = performance.now();
          await new Promise((r) => requestAnimationFrame(r));
          const n = (sel: string) => document.querySelectorAll(sel).length;
          return `frame in ${Math.round(performance.now() - t)} ms; ${document.visibilityState}; focus ${document.hasFocus()}; confirm dialogs ${n("[data-testid=confirm-dialog]")}; modals ${n(".n-modal")}`;
        }),
        new Promise<string>((r) => setTimeout(() => r("no animation frame or answer within 2 s"), 2000)),
      ]).catch((err: unknown) => `(could not ask the page: ${String(err)})`);
      await testInfo.attach("page-state.txt", { body: state, contentType: "text/plain" });
      await testInfo.attach("browser.log", { body: consoleLines.join("\n") || "(nothing)", contentType: "text/plain" });
      // What the user saw last: open dialogs, messages and notifications (a failed action says why there).
      const shown = await page
        .locator(".n-message, .n-notification, .n-dialog, .n-modal, [role='alert']")
        .allInnerTexts()
        .catch((err: unknown) => [`(could not read the page: ${String(err)})`]);
      await testInfo.attach("on-screen.txt", { body: shown.join("\n---\n") || "(no dialog or message)", contentType: "text/plain" });
    }
  },
  signIn: async ({ page }, use) => {
    await use(async (username, password = username === "admin" ? ADMIN_PASSWORD : PASSWORD) => {
      await page.goto("/login");
      await page.getByTestId("username").locator("input").fill(username);
      await page.getByTestId("password").locator("input").fill(password);
      await page.getByTestId("sign-in").click();
      // On a phone the name is on the button that unfolds the header's settings and account.
      await expect(page.getByTestId("signed-in-as").or(page.getByTestId("header-menu")).filter({ visible: true })).toContainText(username);
      return page;
    });
  },
});

export { expect };

let seq = 0;
/** A fresh id for fixtures (projects and rollouts of one run never collide). */
export const uid = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++seq}`;
