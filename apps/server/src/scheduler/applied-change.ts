import { TaskType } from "@runway/shared";
import { ledgerChecksum } from "../executors/ledger.js";
import type { ClaimedRun, Finish } from "../store/runs.js";

/**
 * What a run that ended DONE applied, for its database's ledger snapshot (store/ledger-snapshots.ts): a
 * versioned change, with the checksum the target's ledger records. Null for unversioned runs and
 * CREATE DATABASE. The finish statement appends it where a snapshot exists, in the commit that makes the
 * run DONE, so a preview never sees the run DONE without its change (and a fenced-out write appends
 * nothing: the owner that writes the outcome does). One statement per batch of outcomes, not two.
 */
export function appliedChange(run: ClaimedRun): Finish["applied"] {
  if (run.schemaVersion === null || run.type === TaskType.DATABASE_CREATE) return null;
  return { schemaVersion: run.schemaVersion, checksum: ledgerChecksum(run.statement) };
}
