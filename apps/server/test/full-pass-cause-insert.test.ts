import { describe, expect, it } from "vitest";
import { sql, type KyselyPlugin, type PluginTransformQueryArgs, type PluginTransformResultArgs } from "kysely";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import type { Db } from "../src/store/db.js";
import { stageProgressFold } from "../src/store/gating-stages.js";
import { useTestDatabase } from "./helpers/db.js";
import { dropChangeMarks, overlappingFullPasses } from "./helpers/overlapping-passes.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

/**
 * Issue 19: a full pass under the real pass lock writes the causes of runs it read without one as a plain
 * INSERT (the upsert's speculative insertion was ~18% of the write of 100k–1M causes), and upserts the rest.
 * A pass whose lock is injected (and may let a second pass in) upserts everything.
 */
const t = useTestDatabase();

/** Collects the text of every cause write. */
function causeWrites(into: string[]): KyselyPlugin {
  return {
    transformQuery(args: PluginTransformQueryArgs) {
      const text = JSON.stringify(args.node);
      if (text.includes("INSERT INTO task_run_wait")) into.push(text);
      return args.node;
    },
    transformResult: async (args: PluginTransformResultArgs) => args.result,
  };
}

const causes = async (db: Db) =>
  new Map(
    (await db.selectFrom("task_run_wait").select(["run_id", "type", "database_name", "sequential"]).execute()).map((w) => [
      w.run_id,
      `${w.type} ${w.database_name} ${w.sequential}`,
    ]),
  );

/** One full pass of a replica with the real pass lock. */
const fullPass = (db: Db) =>
  new PendingScheduler({ db, clock: { now: () => new Date() }, replicaId: "p", fullPassIntervalMs: 1e12 }).runOnce({ full: true });

describe("the full pass's write of causes", () => {
  it("inserts the causes of runs read without one and upserts those of runs that had one, to the same rows", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    // Sequential changes on two databases: one goes on each, the other eight wait DATABASE_BUSY.
    await seedRollout(
      t.db,
      projectId,
      Array.from({ length: 10 }, (_, k) => task(instanceId, `d${k % 2}`)),
    );
    const pass = (plugin: KyselyPlugin) => fullPass(t.db.withPlugin(plugin));
    let writes: string[] = [];
    expect(await pass(causeWrites(writes))).toMatchObject({ kind: "full", promoted: 2, causesWritten: 8 });
    const all = await causes(t.db);
    expect([...all.values()].sort()).toEqual([...Array(4).fill("DATABASE_BUSY d0 true"), ...Array(4).fill("DATABASE_BUSY d1 true")]);
    // The runs had no cause (their creation records none): one plain INSERT.
    expect(writes).toHaveLength(1);
    expect(writes[0]).not.toContain("ON CONFLICT");

    // Half the causes gone and the others changed: the pass inserts the first and upserts the second.
    const ids = [...all.keys()].sort();
    await t.db.deleteFrom("task_run_wait").where("run_id", "in", ids.slice(0, 4)).execute();
    await sql`UPDATE task_run_wait SET cause = '{"type":"RUN_AT"}', type = 'RUN_AT'`.execute(t.db);
    writes = [];
    expect(await pass(causeWrites(writes))).toMatchObject({ kind: "full", promoted: 0, causesWritten: 8 });
    expect(await causes(t.db)).toEqual(all);
    expect(writes.map((w) => w.includes("ON CONFLICT")).sort()).toEqual([false, true]);
  });

  it("upserts every cause when its lock is injected: two passes the lock let in both succeed", async () => {
    const { projectId, instanceId } = await seedProject(t.db);
    await seedRollout(
      t.db,
      projectId,
      Array.from({ length: 6 }, () => task(instanceId, "d")),
    );
    // A first pass promotes the one run that may go and folds the rollout's stage progress (which a second
    // pass would otherwise wait on before deciding anything); then its causes are forgotten.
    expect(await fullPass(t.db)).toMatchObject({ promoted: 1 });
    await t.db.deleteFrom("task_run_wait").execute();
    // Its promotion appended a stage-progress delta: folded now, or the first concurrent pass's fold would
    // hold the second one back before it read anything.
    await stageProgressFold(t.db);
    await dropChangeMarks(t.db);
    // Both find the five runs without a cause, the database busy: both write five DATABASE_BUSY causes, the
    // second waiting on the first's rows. A plain INSERT would fail the second on them.
    const results = await overlappingFullPasses(t.url, t.db, { now: () => new Date() });
    expect(results.map((x) => x && { candidates: x.candidates, causesWritten: x.causesWritten })).toEqual([
      { candidates: 5, causesWritten: 5 },
      { candidates: 5, causesWritten: 5 },
    ]);
    expect((await causes(t.db)).size).toBe(5);
  });
});
