import { Kysely, PostgresDialect } from "kysely";
import { promises as fs } from "node:fs";
import { type PassResult, PendingScheduler } from "@runway/server/scheduler";
import { createPool, type DB, FULL_PASS_READERS, taskRunFinish, taskRunsClaim, tasksRun } from "@runway/server/store";
import { machineInfo, median, runMain, startBenchPg, writeResult, BENCH_CONTROL_BOUNDS } from "./lib/pg.js";
import { seedGating } from "./lib/gating-seed.js";
import { GATING_BESIDE, GATING_PARTS } from "./lib/report.js";

/**
 * `pnpm bench:gating`: full and live pending-scheduler passes at 1k / 10k / 100k PENDING runs (BENCH_SIZES;
 * 1000000 is issue 19's largest size) over 1k databases and 100 rollouts. Prints a table and writes
 * bench/results/gating.json. Not a timed test. For each full pass it also records the process's peak RSS
 * (this process is the replica running the pass) and where the pass's time went.
 */

const SIZES = (process.env.BENCH_SIZES ?? "1000,10000,100000").split(",").map(Number);
/** Passes of each kind per size (median reported); BENCH_GATING_REPEAT keeps a 1M run short. */
const REPEAT = Number(process.env.BENCH_GATING_REPEAT ?? 5);
const CHANGE = 100;
const REPLICA = "bench";

interface Row {
  pending: number;
  fullPassMs: number;
  /**
   * The same full pass with every cause already recorded (the pass before it wrote them): the safety net as
   * it runs every RUNWAY_FULL_PASS_INTERVAL_MS. fullPassMs, the targets' figure, is the worst case.
   */
  fullRecordedMs: number;
  fullStatements: number;
  /** Batches the full pass read its runs in (its cursor's FETCHes). */
  fullBatches: number;
  fullCandidates: number;
  livePassMs: number;
  liveStatements: number;
  liveCandidates: number;
  livePromoted: number;
  /** Passes a measured live pass asked for right after it (median, most), and the slowest of them, ms. */
  liveFollowUps: number;
  liveFollowUpsMax: number;
  liveFollowUpMaxMs: number;
  /** Peak RSS of this process during a full pass (largest over the passes), MiB. */
  fullPeakRssMiB: number | null;
  /** Median full pass split by part, ms (see partOf). */
  fullParts: Record<string, number>;
}

/**
 * Where a full pass's time goes. The pass's session waits for the first batch (its FETCH sorts every PENDING
 * run), then promotes and writes each batch while the reader sessions (gatingWithReaders) read the next: the
 * later FETCHes run beside those statements, so they are shown apart and are not part of the pass's time.
 * "Node and waits" is the rest of it: decide(), and waiting for a later batch that was not there yet.
 */
function partOf(sqlText: string, fetchNo: number): (typeof GATING_PARTS)[number] {
  if (/INSERT INTO task_run_wait/.test(sqlText)) return "write causes";
  if (/^\s*FETCH /.test(sqlText)) return fetchNo <= Math.max(READERS, 1) ? "first batch" : GATING_BESIDE;
  if (/SET status = 'AVAILABLE'/.test(sqlText)) return "promote";
  return "other SQL";
}

/**
 * Linux keeps the process's peak RSS (VmHWM); writing 5 to clear_refs resets it, so the peak of one pass
 * is read exactly, even while decide() keeps the event loop (and any sampling timer) busy.
 */
async function resetPeakRss(): Promise<boolean> {
  try {
    await fs.writeFile("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}
async function peakRssMiB(): Promise<number | null> {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(await fs.readFile("/proc/self/status", "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

async function benchSize(serverPg: Awaited<ReturnType<typeof startBenchPg>>, pending: number): Promise<Row> {
  const url = await serverPg.freshDatabase(`bench_gating_${pending}`);
  await seedGating(url, { pending, databases: 1000, rollouts: 100, reserve: CHANGE * (REPEAT + 1), parallelLimit: 10 });
  // The replica's own pool: its client sends the pass's prepared() statements as named ones (issue 19).
  const pool = createPool(url, 4, "bench gating", BENCH_CONTROL_BOUNDS);
  let statements = 0;
  let fetches = 0;
  let parts = new Map<string, number>();
  const db = new Kysely<DB>({
    dialect: new PostgresDialect({ pool }),
    log: (e) => {
      if (e.level !== "query") return;
      statements++;
      if (/^\s*FETCH /.test(e.query.sql)) fetches++;
      // The idle bound a batch sends on the pass's session is not awaited: it waits behind the batch's writes,
      // and its duration is theirs again (it made "Node and waits" negative).
      if (/^SELECT set_config\('idle_in_transaction_session_timeout', \$1, true\)$/.test(e.query.sql.trim())) return;
      const part = partOf(e.query.sql, fetches);
      // The readers' first FETCHes run at once, each sorting its part: the pass waits for the slowest.
      if (part === "first batch") parts.set(part, Math.max(parts.get(part) ?? 0, e.queryDurationMillis));
      else parts.set(part, (parts.get(part) ?? 0) + e.queryDurationMillis);
    },
  });
  const scheduler = new PendingScheduler({
    db,
    clock: { now: () => new Date() },
    replicaId: REPLICA,
    fullPassIntervalMs: 86_400_000,
    ...(LOCK_IDLE_MS !== undefined ? { lockIdleTimeoutMs: LOCK_IDLE_MS } : {}),
    fullPassReaders: READERS,
  });
  const measure = async (fn: () => Promise<PassResult | null>) => {
    statements = 0;
    fetches = 0;
    parts = new Map();
    const t0 = performance.now();
    const r = await fn();
    // Kysely logs BEGIN and COMMIT too (of the pass's transaction and of its reader's).
    return { ms: performance.now() - t0, statements, batches: fetches, r: r! };
  };

  // Warm-up full pass: promotes every run that may go, records every cause.
  await scheduler.runOnce({ full: true });
  await taskRunsClaim(db, { replicaId: REPLICA, limit: 1_000_000, leaseTtlMs: 3_600_000, now: new Date() });

  const full: { ms: number; statements: number; batches: number; candidates: number; rss: number | null; parts: Map<string, number> }[] =
    [];
  const recorded: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    // Forget every cause so the pass evaluates and writes all of them, as after a bulk submission.
    await pool.query(`DELETE FROM task_run_wait; DELETE FROM stage_wait`);
    await pool.query(`VACUUM ANALYZE task_run_wait, stage_wait`);
    const rssKnown = await resetPeakRss();
    const m = await measure(() => scheduler.runOnce({ full: true }));
    const onPath = GATING_PARTS.filter((k) => k !== "Node and waits" && k !== GATING_BESIDE).reduce((a, k) => a + (parts.get(k) ?? 0), 0);
    parts.set("Node and waits", m.ms - onPath);
    full.push({
      ms: m.ms,
      statements: m.statements,
      batches: m.batches,
      candidates: m.r.candidates,
      rss: rssKnown ? await peakRssMiB() : null,
      parts,
    });
    await taskRunsClaim(db, { replicaId: REPLICA, limit: 1_000_000, leaseTtlMs: 3_600_000, now: new Date() });
    recorded.push((await measure(() => scheduler.runOnce({ full: true }))).ms);
    await taskRunsClaim(db, { replicaId: REPLICA, limit: 1_000_000, leaseTtlMs: 3_600_000, now: new Date() });
  }

  const reserve = (
    await pool.query<{ id: string; rollout_id: string }>(`SELECT id, rollout_id FROM task WHERE status = 'NOT_STARTED' ORDER BY id`)
  ).rows;
  const live: { ms: number; statements: number; candidates: number; promoted: number; followUps: number[] }[] = [];
  for (let i = 0; i < REPEAT; i++) {
    // 100 runs on random databases finish…
    const running = (
      await pool.query<{ id: string; lease_epoch: number }>(
        `SELECT id, lease_epoch FROM task_run WHERE status = 'RUNNING' ORDER BY random() LIMIT ${CHANGE}`,
      )
    ).rows;
    for (const r of running) {
      await taskRunFinish(db, {
        runId: r.id,
        replicaId: REPLICA,
        epoch: r.lease_epoch,
        status: "DONE",
        result: {},
        message: "bench",
        now: new Date(),
      });
    }
    // …and 100 new runs arrive.
    const batch = reserve.splice(0, CHANGE);
    const byRollout = new Map<string, string[]>();
    for (const t of batch) byRollout.set(t.rollout_id, [...(byRollout.get(t.rollout_id) ?? []), t.id]);
    for (const [rolloutId, taskIds] of byRollout) {
      await tasksRun(db, { rolloutId, taskIds, runAt: null, actor: "bench", now: new Date() });
    }
    const m = await measure(() => scheduler.runOnce());
    if (m.r.kind !== "live") throw new Error("expected a live pass");
    // The passes it asked for (`more`: databases and rollouts it marked again), as a replica runs them
    // right after it: timed too, so work a pass leaves for later is not left out of the figures.
    const followUps: number[] = [];
    for (let more = m.r.more; more && followUps.length < 100;) {
      const f = await measure(() => scheduler.runOnce());
      followUps.push(f.ms);
      more = f.r.more;
    }
    live.push({ ms: m.ms, statements: m.statements, candidates: m.r.candidates, promoted: m.r.promoted, followUps });
    await taskRunsClaim(db, { replicaId: REPLICA, limit: 1_000_000, leaseTtlMs: 3_600_000, now: new Date() });
  }
  await db.destroy();
  return {
    pending,
    fullPassMs: median(full.map((x) => x.ms)),
    fullRecordedMs: median(recorded),
    fullStatements: Math.max(...full.map((x) => x.statements)),
    fullBatches: Math.max(...full.map((x) => x.batches)),
    fullCandidates: median(full.map((x) => x.candidates)),
    livePassMs: median(live.map((x) => x.ms)),
    liveStatements: Math.max(...live.map((x) => x.statements)),
    liveCandidates: median(live.map((x) => x.candidates)),
    livePromoted: median(live.map((x) => x.promoted)),
    liveFollowUps: median(live.map((x) => x.followUps.length)),
    liveFollowUpsMax: Math.max(...live.map((x) => x.followUps.length)),
    liveFollowUpMaxMs: Math.max(0, ...live.flatMap((x) => x.followUps)),
    fullPeakRssMiB: full.some((x) => x.rss === null) ? null : Math.round(Math.max(...full.map((x) => x.rss!))),
    fullParts: Object.fromEntries(GATING_PARTS.map((k) => [k, Number(median(full.map((x) => x.parts.get(k) ?? 0)).toFixed(1))])),
  };
}

/** The full pass's reader sessions (a replica's FULL_PASS_READERS unless BENCH_GATING_READERS says otherwise; the pool has 4). */
const READERS = process.env.BENCH_GATING_READERS ? Number(process.env.BENCH_GATING_READERS) : FULL_PASS_READERS;
/**
 * The pass lock's idle bound (PASS_LOCK_IDLE_MS, 5 s in production) ends a pass whose transaction waits on
 * Node longer than that: at 1M pending runs a full pass does (see docs/benchmarks.md). BENCH_GATING_LOCK_IDLE_MS
 * raises it so the pass can be measured at all; the JSON records the value used.
 */
const LOCK_IDLE_MS = process.env.BENCH_GATING_LOCK_IDLE_MS ? Number(process.env.BENCH_GATING_LOCK_IDLE_MS) : undefined;

async function main(): Promise<void> {
  const serverPg = await startBenchPg();
  const rows: Row[] = [];
  // Written after every size, so a long 1M step that fails still leaves the smaller sizes' figures.
  const write = async () =>
    writeResult("gating", {
      benchmark: "gating",
      description:
        "Pending-scheduler pass time. Full pass: every cause forgotten, then every PENDING run evaluated and its cause written (a release control's once per stage, whose runs without a cause of their own are not read: fullCandidates counts the runs read). Live pass: after 100 runs on random databases finish and 100 new runs arrive.",
      setup: { databases: 1000, rollouts: 100, parallelLimit: 10, repeat: REPEAT, change: CHANGE, lockIdleTimeoutMs: LOCK_IDLE_MS ?? null },
      targets: { livePassMs: 100, fullPassMsAt100k: 1500, fullPassMsAt1M: 15000, fullPeakRssMiBAt1M: 512 },
      machine: await machineInfo(),
      results: rows,
    });
  try {
    for (const size of SIZES) {
      const row = await benchSize(serverPg, size);
      rows.push(row);
      console.log(
        `pending=${size}: full ${row.fullPassMs.toFixed(1)} ms (peak RSS ${row.fullPeakRssMiB} MiB; ${JSON.stringify(row.fullParts)}), live ${row.livePassMs.toFixed(1)} ms`,
      );
      console.log(`wrote ${await write()}`);
    }
  } finally {
    await serverPg.stop();
  }
}

runMain(main);
