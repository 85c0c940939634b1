import os from "node:os";
import type { TaskType } from "@runway/shared";
import { lintForCreate } from "@runway/server/checks";
import { createDb, createPool, instanceCreate, projectCreate, rolloutCreate, type NewTask, type Sealer } from "@runway/server/store";
import { machineInfo, median, runMain, startBenchPg, writeResult } from "./lib/pg.js";

/**
 * `pnpm bench` step: what linting adds to creating a 10,000-task rollout (issue 15: at most 2 s). The same
 * rollout is created through the store's rolloutCreate with and without the lint that the API starts
 * beside it (squawk over a file per distinct statement in a few processes, plus Runway's rules and the
 * findings' insert), three times each; the added time is the difference of the medians. Shapes: every
 * statement distinct (squawk's worst case), 100 distinct statements repeated (a typical fan-out), each
 * with statements no creation used before (every parse and squawk report is new: the server keeps recent
 * ones in memory); and every statement distinct again, each creation repeating the last one's statements
 * (a release's files in its next rollout: parses and squawk's reports are known).
 */

const TASKS = Number(process.env.BENCH_LINT_TASKS ?? 10_000);
const REPEATS = 3;
const plaintextRows: Sealer = { seal: (s) => s };

/** `round` makes every statement's text new (no parse or squawk report of it is known yet). */
function statementFor(i: number, round: number): { type: TaskType; statement: string } {
  const r = `r${round}`;
  switch (i % 4) {
    case 0:
      return { type: "DATABASE_SCHEMA_UPDATE", statement: `ALTER TABLE t_${i}_${r} ADD COLUMN c_${i} integer NOT NULL DEFAULT ${i};` };
    case 1:
      return {
        type: "DATABASE_SCHEMA_UPDATE",
        statement: `CREATE INDEX t_${i}_${r}_idx ON t_${i}_${r} (a, b);\nALTER TABLE t_${i}_${r} ADD COLUMN d text;`,
      };
    case 2:
      return { type: "DATABASE_DATA_UPDATE", statement: `UPDATE accounts_${r} SET balance = balance + ${i} WHERE id = ${i};` };
    default:
      return { type: "DATABASE_DATA_UPDATE", statement: `CREATE INDEX CONCURRENTLY IF NOT EXISTS u_${i}_idx ON u_${i}_${r} (x)` };
  }
}

function tasks(distinct: number, round: number): NewTask[] {
  return Array.from({ length: TASKS }, (_, i) => ({
    ...statementFor(i % distinct, round),
    instanceId: "bench-i",
    database: `db_${i % 1000}`,
    schemaVersion: i % 2 === 0 ? `${String(i).padStart(6, "0")}` : null,
  }));
}

interface Row {
  shape: string;
  tasks: number;
  distinct: number;
  withoutMs: number;
  withMs: number;
  addedMs: number;
  lintAloneMs: number;
  findings: number;
  squawkError: string | null;
  /** 1-minute load average after each timed creation (the machine is shared). */
  load: number[];
}

async function main(): Promise<void> {
  const serverPg = await startBenchPg();
  const rows: Row[] = [];
  try {
    const url = await serverPg.freshDatabase("bench_lint");
    const db = createDb(createPool(url, 4, "bench lint"));
    await projectCreate(db, { id: "bench", title: "Bench", parallelTasksPerRollout: 0 });
    await instanceCreate(
      db,
      { id: "bench-i", title: "t", connectionUrl: "postgres://nobody@127.0.0.1:1/none", projectIds: ["bench"] },
      plaintextRows,
    );
    let round = 0;
    for (const [shape, distinct, fresh] of [
      ["every statement distinct", TASKS, true],
      ["100 distinct statements", 100, true],
      ["every statement distinct, as in the last rollout", TASKS, false],
    ] as const) {
      const create = async (lint: boolean) => {
        // Fresh shapes: new statements for every creation. Repeated: the statements of the creation before.
        const t = tasks(distinct, fresh ? ++round : round);
        const t0 = performance.now();
        await rolloutCreate(
          db,
          {
            projectId: "bench",
            title: shape,
            createdBy: "bench",
            stages: [{ environment: "prod", tasks: t }],
            ...(lint ? { lint: lintForCreate(async () => ({}), t) } : {}),
          },
          new Date(),
        );
        return performance.now() - t0;
      };
      // Warm-up: module loads, page cache for squawk's binary; for the repeated shape, the statements' first lint.
      await create(true);
      const without: number[] = [];
      const withLint: number[] = [];
      const load: number[] = [];
      for (let i = 0; i < REPEATS; i++) {
        without.push(await create(false));
        load.push(Number(os.loadavg()[0]!.toFixed(1)));
        withLint.push(await create(true));
        load.push(Number(os.loadavg()[0]!.toFixed(1)));
      }
      // Lint by itself, parse included (nothing else parses these statements here).
      const t = tasks(distinct, fresh ? ++round : round);
      const t0 = performance.now();
      const results = await lintForCreate(async () => ({}), t);
      const lintAloneMs = performance.now() - t0;
      const row: Row = {
        shape,
        tasks: TASKS,
        distinct,
        withoutMs: Math.round(median(without)),
        withMs: Math.round(median(withLint)),
        addedMs: Math.round(median(withLint) - median(without)),
        lintAloneMs: Math.round(lintAloneMs),
        findings: results.reduce((n, r) => n + r.findings.length, 0),
        squawkError: results.find((r) => r.error)?.error ?? null,
        load,
      };
      rows.push(row);
      console.log(row);
    }
    await db.destroy();
  } finally {
    await serverPg.stop();
  }
  console.table(rows.map(({ squawkError: _e, load: _l, ...r }) => r));
  const file = await writeResult("lint", {
    benchmark: "lint",
    description: "Time linting adds to creating a 10,000-task rollout (median of 3 creations with and without lint).",
    target: { addedMs: 2000 },
    results: rows,
    loadAverage: os.loadavg(),
    machine: await machineInfo(),
  });
  console.log(`wrote ${file}`);
}

runMain(main);
