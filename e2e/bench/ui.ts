/**
 * `pnpm bench:ui`: the dashboard with a 10,000-task rollout in headless Chromium against the real server.
 * Measures time to the first rendered task row, status-chip switch time (click → filtered rows painted)
 * frame times while scrolling the virtual table, and server-side search and sort times (action → rows painted);
 * writes bench/results/ui.json. A benchmark, not a test:
 * it reports numbers next to the targets (first render ≤ 1.5 s, chip switch ≤ 150 ms) and exits 0.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type Page } from "@playwright/test";
import { Api, type NewTask } from "../common/api.js";
import { ADMIN_PASSWORD, REPO_ROOT, startServer } from "../common/server.js";
import { prepareTarget } from "../common/target.js";
import { clearSearch, searchTiming, sortTiming } from "./ui-search.js";
import { scrollFrames } from "./ui-scroll.js";
import { timelineOpen, timelineRegroup } from "./ui-timeline.js";

const TASKS = 10_000;
const RUNS = 5;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const round = (x: number) => Math.round(x * 10) / 10;

async function seed(api: Api, pgUrl: string): Promise<string> {
  await api.createInstance("bench", await prepareTarget(pgUrl));
  await api.createProject("bench-ui", 0, ["bench"]);
  const tasks = (from: number, n: number): NewTask[] =>
    Array.from({ length: n }, (_, i) => ({
      type: (from + i) % 4 === 0 ? "DATABASE_DATA_UPDATE" : "DATABASE_SCHEMA_UPDATE",
      instanceId: "bench",
      database: `tenant_${(from + i) % 500}`,
      statement: `ALTER TABLE orders ADD COLUMN c_${from + i} int`,
      schemaVersion: `${String(1 + Math.floor((from + i) / 500)).padStart(4, "0")}`,
    }));
  const rolloutId = await api.createRollout("bench-ui", "10,000 tasks", [
    { environment: "staging", tasks: tasks(0, 2_000) },
    { environment: "production", tasks: tasks(2_000, TASKS - 2_000) },
  ]);
  const ids = (await api.tasks(rolloutId)).map((t) => t.id);
  // A spread of statuses without executing anything: skipped, scheduled far ahead (PENDING), not started.
  await api.skip(
    rolloutId,
    ids.filter((_, i) => i % 10 < 3),
    "bench",
  );
  await api.run(
    rolloutId,
    ids.filter((_, i) => i % 10 >= 3 && i % 10 < 6),
    new Date(Date.now() + 7 * 86_400_000).toISOString(),
  );
  return rolloutId;
}

/** ms from navigation start to the first task row in the DOM and to all tasks loaded. */
async function firstRender(page: Page, url: string): Promise<{ firstRowMs: number; allLoadedMs: number }> {
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { __rw?: { complete?: number } }).__rw?.complete, null, { timeout: 60_000 });
  return page.evaluate(() => {
    const rw = (window as unknown as { __rw: { firstRow: number; complete: number } }).__rw;
    return { firstRowMs: rw.firstRow, allLoadedMs: rw.complete };
  });
}

/** Click a chip and wait until the table shows that filter painted (next animation frame). */
async function chipSwitch(page: Page, chip: string): Promise<number> {
  return page.evaluate(async (chip) => {
    const button = document.querySelector<HTMLElement>(`[data-testid="chip-${chip}"]`)!;
    const t0 = performance.now();
    button.click();
    const done = () => {
      if (button.getAttribute("aria-pressed") !== "true") return false;
      const rows = [...document.querySelectorAll("tr[data-task-id]")];
      if (rows.length === 0) return false;
      return chip === "ALL"
        ? new Set(rows.map((r) => r.getAttribute("data-status"))).size > 1
        : rows.every((r) => r.getAttribute("data-status") === chip);
    };
    await new Promise<void>((resolve) => {
      const check = () => (done() ? requestAnimationFrame(() => resolve()) : requestAnimationFrame(check));
      check();
    });
    return performance.now() - t0;
  }, chip);
}

async function main() {
  console.log("starting the server (embedded PostgreSQL)…");
  const server = await startServer();
  try {
    const admin = await Api.signIn(server.url, "admin", ADMIN_PASSWORD);
    console.log(`seeding a rollout with ${TASKS} tasks…`);
    const rolloutId = await seed(admin, server.pgUrl);
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
    });
    try {
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, baseURL: server.url });
      // tsx (esbuild keepNames) wraps functions sent to the page in __name(…); give the page a no-op one.
      await context.addInitScript({ content: "window.__name = (f) => f;" });
      await context.addInitScript(() => {
        const rw: { firstRow?: number; complete?: number } = {};
        (window as unknown as { __rw: typeof rw }).__rw = rw;
        new MutationObserver(() => {
          if (rw.firstRow === undefined && document.querySelector("tr[data-task-id]")) rw.firstRow = performance.now();
          if (rw.complete === undefined && document.querySelector('[data-complete="true"]')) rw.complete = performance.now();
        }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-complete"] });
      });
      const page = await context.newPage();
      await page.goto("/login");
      await page.getByTestId("username").locator("input").fill("admin");
      await page.getByTestId("password").locator("input").fill(ADMIN_PASSWORD);
      await page.getByTestId("sign-in").click();
      await page.getByTestId("signed-in-as").waitFor();

      const renders = [];
      for (let i = 0; i < RUNS; i++) renders.push(await firstRender(page, `/rollouts/${rolloutId}`));
      console.log("first render (ms):", renders.map((r) => round(r.firstRowMs)).join(", "));

      const chips = ["PENDING", "ALL", "SKIPPED", "ALL", "NOT_STARTED", "ALL"];
      const switches: { chip: string; ms: number }[] = [];
      for (let i = 0; i < 3; i++) for (const chip of chips) switches.push({ chip, ms: await chipSwitch(page, chip) });
      console.log("chip switch (ms):", switches.map((s) => round(s.ms)).join(", "));

      const scroll = await scrollFrames(page, "task-table");

      // Server-side search and sort at 10k tasks (issue 17): action → the answer painted.
      await page.getByTestId("chip-ALL").click();
      const searches: number[] = [];
      for (const text of ["tenant_42", "tenant_7", "tenant_311", "tenant_99", "tenant_250"]) {
        searches.push(await searchTiming(page, text));
        await clearSearch(page);
      }
      console.log("search (ms):", searches.map(round).join(", "));
      const sorts: { column: string; ms: number }[] = [];
      for (const column of ["database", "database", "schemaVersion", "schemaVersion", "id", "id"])
        sorts.push({ column, ms: await sortTiming(page, column) });
      console.log("sort (ms):", sorts.map((s) => round(s.ms)).join(", "));

      // The timeline at 10k tasks: open (first use loads its code), regroup by database, scroll.
      const timelineOpenMs = await timelineOpen(page);
      const timelineRegroupMs = await timelineRegroup(page);
      const timeline = await scrollFrames(page, "timeline");
      console.log(
        `timeline (ms): open ${round(timelineOpenMs)}, regroup ${round(timelineRegroupMs)}, scroll frame median ${round(median(timeline.frames))}`,
      );
      const result = {
        generatedAt: new Date().toISOString(),
        // Other work on the machine skews every number: the load average says how busy it was.
        loadAverage: os.loadavg().map(round),
        machine: {
          cpus: os.cpus().length,
          cpuModel: os.cpus()[0]?.model,
          memoryGiB: Math.round(os.totalmem() / 2 ** 30),
          node: process.version,
        },
        browser: `chromium ${browser.version()} (headless, --disable-gpu)`,
        tasks: TASKS,
        statuses: { SKIPPED: 3000, PENDING: 3000, NOT_STARTED: 4000 },
        targets: { firstRenderMs: 1500, chipSwitchMs: 150 },
        firstRender: {
          medianMs: round(median(renders.map((r) => r.firstRowMs))),
          maxMs: round(Math.max(...renders.map((r) => r.firstRowMs))),
          samplesMs: renders.map((r) => round(r.firstRowMs)),
          allTasksLoadedMedianMs: round(median(renders.map((r) => r.allLoadedMs))),
        },
        chipSwitch: {
          medianMs: round(median(switches.map((s) => s.ms))),
          p95Ms: round(
            pct(
              switches.map((s) => s.ms),
              95,
            ),
          ),
          maxMs: round(Math.max(...switches.map((s) => s.ms))),
          samples: switches.map((s) => ({ chip: s.chip, ms: round(s.ms) })),
        },
        search: { medianMs: round(median(searches)), maxMs: round(Math.max(...searches)), samplesMs: searches.map(round) },
        sort: {
          medianMs: round(median(sorts.map((s) => s.ms))),
          maxMs: round(Math.max(...sorts.map((s) => s.ms))),
          samples: sorts.map((s) => ({ column: s.column, ms: round(s.ms) })),
        },
        scroll: {
          frames: scroll.frames.length,
          pxPerFrame: 120,
          frameMedianMs: round(median(scroll.frames)),
          frameP95Ms: round(pct(scroll.frames, 95)),
          frameMaxMs: round(Math.max(...scroll.frames)),
          framesOver33Ms: scroll.frames.filter((f) => f > 33.4).length,
          rowsChanged: scroll.rowsChanged,
        },
        timeline: {
          openMs: round(timelineOpenMs),
          regroupByDatabaseMs: round(timelineRegroupMs),
          scroll: {
            frames: timeline.frames.length,
            frameMedianMs: round(median(timeline.frames)),
            frameP95Ms: round(pct(timeline.frames, 95)),
            frameMaxMs: round(Math.max(...timeline.frames)),
            moved: timeline.moved,
          },
        },
      };
      const out = path.join(REPO_ROOT, "bench/results/ui.json");
      mkdirSync(path.dirname(out), { recursive: true });
      writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
      console.log(
        JSON.stringify(
          {
            firstRender: result.firstRender.medianMs,
            chipSwitch: result.chipSwitch.medianMs,
            search: result.search.medianMs,
            sort: result.sort.medianMs,
            scroll: result.scroll,
            timeline: result.timeline,
          },
          null,
          2,
        ),
      );
      console.log(`wrote ${out}`);
    } finally {
      await browser.close();
    }
  } finally {
    await server.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
