import { Kysely, PostgresDialect } from "kysely";
import { PendingScheduler } from "@runway/server/scheduler";
import { createPool, type DB } from "@runway/server/store";
import { BaselinePendingScheduler } from "./baseline/pending-scheduler.js";
import { BaselineStore } from "./baseline/store.js";
import { seedGating } from "./lib/gating-seed.js";
import { applyLiveChange, claimAll, reserveTasks } from "./lib/live-change.js";
import { machineInfo, median, startBenchPg, writeResult, runMain, BENCH_CONTROL_BOUNDS } from "./lib/pg.js";
import { readResult } from "./lib/results.js";
import { ratio } from "./lib/stats.js";

/**
 * `pnpm bench` step 1b: the reference plan's pending scheduler (bench/baseline/) against ours, on the data
 * bench/gating.ts uses (same seed; state after a full pass and one tick's change). The baseline pass runs
 * in a transaction that is rolled back, so it can be repeated and our live pass then sees the very same
 * state. A pass is capped (BENCH_BASELINE_CAP_S, default 20 s): when it does not finish, its time is a
 * lower bound, and an estimate extrapolates from the share of runs it evaluated.
 */

const SIZES = (process.env.BENCH_SIZES ?? "1000,10000,100000").split(",").map(Number);
const CAP_MS = Number(process.env.BENCH_BASELINE_CAP_S ?? 20) * 1000;
const CHANGE = 100;
const REPLICA = "bench";

interface Row {
  pending: number;
  /** PENDING runs the baseline pass had to evaluate (the backlog after one tick). */
  pendingAtPass: number;
  evaluated: number;
  finished: boolean;
  /** Measured pass time; a lower bound when !finished. */
  baselineMs: number;
  /** Extrapolated from evaluated/pendingAtPass when !finished; equal to baselineMs otherwise. */
  baselineEstimatedMs: number;
  baselineStatements: number;
  baselineStatementsPerRun: number;
  samples: number;
  ourLiveSameStateMs: number;
  ourLiveSameStateStatements: number;
  ourLiveMedianMs: number | null;
  ourFullMedianMs: number | null;
  /** baseline ÷ ours; "at least" when the baseline did not finish. */
  ratioVsLive: number | null;
  ratioVsFull: number | null;
}

async function benchSize(serverPg: Awaited<ReturnType<typeof startBenchPg>>, pending: number, gating: GatingRow | undefined): Promise<Row> {
  const url = await serverPg.freshDatabase(`bench_baseline_${pending}`);
  await seedGating(url, { pending, databases: 1000, rollouts: 100, reserve: CHANGE * 2, parallelLimit: 10 });
  // Runway's own pool (its client sends the pending pass's marked statements), with the bench's long bounds.
  const pool = createPool(url, 4, "bench baseline", BENCH_CONTROL_BOUNDS);
  let statements = 0;
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }), log: (e) => void (e.level === "query" && statements++) });
  const ours = new PendingScheduler({ db, clock: { now: () => new Date() }, replicaId: REPLICA, fullPassIntervalMs: 86_400_000 });
  await ours.runOnce({ full: true });
  await claimAll(db, REPLICA);
  await applyLiveChange(db, pool, { change: CHANGE, replicaId: REPLICA, reserve: await reserveTasks(pool) });

  const samples: Awaited<ReturnType<BaselinePendingScheduler["runOnce"]>>[] = [];
  const client = await pool.connect();
  try {
    for (let i = 0; i < 3; i++) {
      await client.query("BEGIN");
      const baseline = new BaselinePendingScheduler(new BaselineStore(client), { now: () => new Date(), replicaId: REPLICA });
      const r = await baseline.runOnce(performance.now() + CAP_MS);
      await client.query("ROLLBACK");
      samples.push(r);
      console.log(
        `  baseline pass: ${r.finished ? "" : "stopped at cap, "}${r.evaluated}/${r.pending} runs, ${r.statements} statements, ${r.ms.toFixed(0)} ms`,
      );
      // Repeat only cheap passes: a long one is its own average over thousands of lookups.
      if (!r.finished || r.ms > 5000) break;
    }
  } finally {
    client.release();
  }

  statements = 0;
  const t0 = performance.now();
  const live = await ours.runOnce();
  const liveMs = performance.now() - t0;
  if (live?.kind !== "live") throw new Error("expected a live pass");
  await db.destroy();

  const last = samples[samples.length - 1]!;
  const finished = last.finished;
  const baselineMs = finished ? median(samples.map((s) => s.ms)) : last.ms;
  const estimate = finished ? baselineMs : (last.ms * last.pending) / Math.max(1, last.evaluated);
  return {
    pending,
    pendingAtPass: last.pending,
    evaluated: last.evaluated,
    finished,
    baselineMs: Math.round(baselineMs),
    baselineEstimatedMs: Math.round(estimate),
    baselineStatements: last.statements,
    baselineStatementsPerRun: Number((last.statements / Math.max(1, last.evaluated)).toFixed(1)),
    samples: samples.length,
    ourLiveSameStateMs: Number(liveMs.toFixed(1)),
    // + BEGIN and COMMIT, which Kysely does not log (as gating.ts counts).
    ourLiveSameStateStatements: statements + 2,
    ourLiveMedianMs: gating?.livePassMs ?? null,
    ourFullMedianMs: gating?.fullPassMs ?? null,
    ratioVsLive: ratio(baselineMs, gating?.livePassMs),
    ratioVsFull: ratio(baselineMs, gating?.fullPassMs),
  };
}

interface GatingRow {
  pending: number;
  livePassMs: number;
  fullPassMs: number;
}

async function main(): Promise<void> {
  const gating = await readResult<{ results: GatingRow[]; machine: { at: string } }>("gating");
  if (!gating) console.warn("bench/results/gating.json is missing: run pnpm bench:gating first for the ratios");
  const serverPg = await startBenchPg();
  const rows: Row[] = [];
  try {
    for (const size of SIZES) {
      console.log(`baseline at ${size} pending runs`);
      rows.push(
        await benchSize(
          serverPg,
          size,
          gating?.results.find((g) => g.pending === size),
        ),
      );
    }
  } finally {
    await serverPg.stop();
  }
  console.table(
    rows.map((r) => ({
      "pending runs": r.pending,
      "baseline pass ms": `${r.finished ? "" : "≥ "}${r.baselineMs}`,
      "baseline runs evaluated": `${r.evaluated}/${r.pendingAtPass}`,
      "baseline statements": r.baselineStatements,
      "our live ms (median)": r.ourLiveMedianMs,
      "baseline ÷ our live": r.ratioVsLive === null ? null : `${r.finished ? "" : "≥ "}${r.ratioVsLive}`,
      "our full ms (median)": r.ourFullMedianMs,
      "baseline ÷ our full": r.ratioVsFull === null ? null : `${r.finished ? "" : "≥ "}${r.ratioVsFull}`,
    })),
  );
  const file = await writeResult("baseline", {
    benchmark: "baseline",
    description:
      "The reference plan's pending scheduler ported to our schema (bench/baseline/), one pass over the gating seed after a full pass and one tick of change, against our live and full passes (medians from gating.json of the same run).",
    setup: { databases: 1000, rollouts: 100, parallelLimit: 10, change: CHANGE, capMs: CAP_MS },
    gatingResultAt: gating?.machine.at ?? null,
    machine: await machineInfo(),
    results: rows,
  });
  console.log(`wrote ${file}`);
}

runMain(main);
