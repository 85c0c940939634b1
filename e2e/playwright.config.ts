import { defineConfig } from "@playwright/test";

/**
 * Browser tests against the real server (started per worker by common/fixtures.ts). Browsers are not
 * downloaded: Chromium comes from the system (CHROMIUM_PATH, default /usr/bin/chromium).
 */
export default defineConfig({
  testDir: "specs",
  outputDir: "test-results",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 120_000,
  expect: { timeout: 20_000 },
  reporter: [["list"]],
  use: {
    viewport: { width: 1440, height: 900 },
    locale: "en-US",
    timezoneId: "Europe/Madrid",
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
    },
  },
});
