import { TaskType } from "@runway/shared";
import { ledgerChecksum } from "../executors/ledger.js";
import type { Db } from "../store/db.js";
import { ledgerSnapshotsRecordApplied } from "../store/ledger-snapshots.js";
import type { ClaimedRun } from "../store/runs.js";
import { Batcher } from "./batcher.js";
import type { Clock } from "./clock.js";

/**
 * The running scheduler's `onApplied`: a versioned change Runway's own run applied goes into its
 * database's ledger snapshot (store/ledger-snapshots.ts), so the next preview plans without it. Batched
 * (one statement for the runs that finish meanwhile); runs without a version do not pay a statement. A
 * failure is logged and never holds the run's outcome: the snapshot is only a cache, its age bounded.
 */
export function snapshotRecorder(db: Db, clock: Clock, onError: (err: unknown) => void): (run: ClaimedRun) => Promise<void> {
  const batcher = new Batcher<ClaimedRun, void>(async (runs) => {
    await ledgerSnapshotsRecordApplied(
      db,
      runs.map((r) => ({
        instanceId: r.instanceId,
        database: r.database,
        schemaVersion: r.schemaVersion,
        checksum: ledgerChecksum(r.statement),
      })),
      clock.now(),
    );
    return runs.map(() => undefined);
  });
  return async (run) => {
    if (run.schemaVersion === null || run.type === TaskType.DATABASE_CREATE) return;
    await batcher.push(run).catch(onError);
  };
}
