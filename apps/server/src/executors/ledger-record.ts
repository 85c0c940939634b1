import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import type { ClaimedRun } from "../store/runs.js";
import { ledgerRecord } from "./ledger.js";
import type { TargetPools } from "./target-pools.js";
import { note, type ExecContext } from "./types.js";

export interface LedgerRecordBounds {
  queryTimeoutMs: number;
  connectTimeoutMs: number;
  /** How long a failed write is tried again on fresh sessions. */
  retryMs: number;
}

/** Wait before each further try: short at first (a reset heals at once), then up to 5 s apart. */
const BACKOFF_MS = [250, 500, 1000, 2000, 5000];

/**
 * Writes the ledger row of a statement that ran outside a transaction and succeeded. The statement is
 * applied whatever happens here, and a task without its row could be applied again by a later run or a
 * release planned from the ledger, so a failed write is not the end: it is tried again on fresh one-off
 * sessions — the pooled one that failed may be silent or reset — until `retryMs` (the replica's
 * target-retry window) is used up or the run is aborted (canceled, lost, shutting down). The row is
 * `ON CONFLICT DO NOTHING`, so a try whose answer was lost and is repeated records it once.
 *
 * Each fresh session carries the run's own session name, so a later owner's reconcile ends it before it
 * reads the ledger, and reads either the row or no write in flight.
 *
 * Returns null once the row is written, else why it could not be (the caller ends the run DONE saying so),
 * and whether the pooled session is still usable.
 */
export async function recordApplied(
  pools: TargetPools,
  url: string,
  client: pg.ClientBase,
  run: ClaimedRun,
  ctx: ExecContext,
  sessionName: string,
  b: LedgerRecordBounds,
): Promise<{ unrecorded: string | null; broken: boolean }> {
  let last: Error;
  try {
    await ledgerRecord(client, run, b.queryTimeoutMs);
    return { unrecorded: null, broken: false };
  } catch (e) {
    last = e as Error;
  }
  await note(ctx, "LEDGER_RETRY", { message: `the statement is applied; writing its ledger row failed (${last.message}), trying again` });
  const deadline = Date.now() + b.retryMs;
  for (let i = 0; !ctx.signal.aborted; i++) {
    const wait = BACKOFF_MS[Math.min(i, BACKOFF_MS.length - 1)]!;
    if (Date.now() + wait >= deadline) break;
    try {
      await sleep(wait, undefined, { signal: ctx.signal });
    } catch {
      break; // aborted
    }
    const left = () => Math.max(1, deadline - Date.now());
    let fresh: pg.Client | undefined;
    try {
      fresh = await pools.connectOnce(url, sessionName, { connectTimeoutMs: Math.min(b.connectTimeoutMs, left()) });
      await ledgerRecord(fresh, run, Math.min(b.queryTimeoutMs, left()));
      await note(ctx, "LEDGER_RECORDED", { message: `ledger row written on try ${i + 2}` });
      return { unrecorded: null, broken: true };
    } catch (e) {
      last = e as Error;
    } finally {
      if (fresh) pools.closeOnce(fresh);
    }
  }
  return { unrecorded: `the ledger row could not be written (${last.message})`, broken: true };
}
