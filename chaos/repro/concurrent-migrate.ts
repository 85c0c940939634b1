/**
 * Reproduction (not part of the test command): server processes starting at the same time on one
 * database — replicas, or a restart overlapping another — can die in `migrate()` with node-pg-migrate's
 * "Another migration is already running", even when there is nothing left to migrate. The lock is
 * pg_try_advisory_lock, so a second runner fails instead of waiting.
 *
 *   pnpm --filter @runway/chaos exec tsx repro/concurrent-migrate.ts   # exits 1 while the bug is there
 */
import { startBenchPg } from "../../bench/lib/pg.js";
import { migrate } from "@runway/server/db";

// A runner that failed on the lock leaves its client connected; stopping PostgreSQL then kills it (57P01).
process.on("uncaughtException", (e: Error & { code?: string }) => {
  if (e.code !== "57P01") throw e;
});

const pg = await startBenchPg();
try {
  const url = await pg.freshDatabase("runway_repro_migrate"); // migrated once already
  let failures = 0;
  for (let round = 0; round < 10; round++) {
    const results = await Promise.allSettled([migrate(url), migrate(url), migrate(url)]);
    for (const r of results) {
      if (r.status === "rejected") {
        failures++;
        console.log(`round ${round}: ${(r.reason as Error).message}`);
      }
    }
  }
  console.log(failures ? `BUG: ${failures} of 30 concurrent migrate() calls failed` : "ok: concurrent migrate() calls all succeeded");
  process.exit(failures ? 1 : 0);
} finally {
  await pg.stop();
}
