import { sql, type RawBuilder } from "kysely";
import { prepared, type Db } from "../db.js";
import { parseIds, stepIds, transitionStatement, type TransitionStep } from "./builder.js";
import { leaseFence, type OwnerFence } from "./fence.js";
import { ledgerSnapshotsAppendSql } from "../ledger-snapshots.js";
import {
  claimBucket,
  claimStep,
  claimedJson,
  taskRunsClaim,
  claimedOf,
  type ClaimedJson,
  type ClaimParams,
  type ClaimedRun,
} from "./claim.js";
import { memoStatement } from "../memo-statement.js";

/** The running scheduler's finish: alone, or with the claim that refills the slots it frees (one statement). */

export interface Fence {
  runId: string;
  replicaId: string;
  epoch: number;
}

export type FinishStatus = "DONE" | "FAILED" | "CANCELED";

export interface Finish extends Fence {
  status: FinishStatus;
  result: unknown;
  message: string;
  /**
   * A versioned change the run applied (DONE): it goes into its database's ledger snapshot, if there is one,
   * in the finish statement itself (store/ledger-snapshots.ts).
   */
  applied?: { schemaVersion: string; checksum: string } | null;
}

/** What a finish (and the claim riding in it) binds: the items' fields as arrays, one element per item. */
interface FinishValues {
  ids: string[];
  replicas: string[];
  epochs: number[];
  statuses: string[];
  results: string[];
  messages: string[];
  versions: (string | null)[];
  checksums: (string | null)[];
  now: Date;
  replicaId: string;
  claimReplicaId: string;
  claimLimit: number;
  claimLeaseTtlMs: number;
  claimNow: Date;
}

/**
 * What shapes a finish statement's text: the statuses its items end in (a finish of runs that all
 * succeeded has no webhook outbox), whether one applied a versioned change (the ledger snapshot's CTEs),
 * and the LIMIT bucket of the claim riding in it (0: none).
 */
interface FinishShape {
  to: FinishStatus[];
  applied: boolean;
  bucket: number;
}

const ORDER: readonly FinishStatus[] = ["DONE", "FAILED", "CANCELED"];

function finishShape(items: Finish[], claimLimit: number): FinishShape {
  return {
    to: ORDER.filter((x) => items.some((i) => i.status === x)),
    applied: items.some((i) => i.applied),
    bucket: claimLimit > 0 ? claimBucket(claimLimit) : 0,
  };
}

function finishValues(items: Finish[], now: Date, claim?: ClaimParams): FinishValues {
  return {
    ids: items.map((i) => i.runId),
    replicas: items.map((i) => i.replicaId),
    epochs: items.map((i) => i.epoch),
    statuses: items.map((i) => i.status),
    results: items.map((i) => JSON.stringify(i.result ?? null)),
    messages: items.map((i) => i.message),
    versions: items.map((i) => i.applied?.schemaVersion ?? null),
    checksums: items.map((i) => i.applied?.checksum ?? null),
    now,
    replicaId: claim?.replicaId ?? items[0]!.replicaId,
    claimReplicaId: claim?.replicaId ?? "",
    claimLimit: claim?.limit ?? 0,
    claimLeaseTtlMs: claim?.leaseTtlMs ?? 0,
    claimNow: claim?.now ?? now,
  };
}

/**
 * RUNNING → DONE/FAILED/CANCELED for each item, fenced per item, and (with a bucket) the claim that refills
 * the slots: one statement. All items come from one replica.
 */
function finishStatement(v: FinishValues, shape: FinishShape, fence: OwnerFence) {
  const inputs = sql`fin_in AS (
    SELECT * FROM unnest(${v.ids}::bigint[], ${v.replicas}::text[], ${v.epochs}::int[],
      ${v.statuses}::text[], ${v.results}::jsonb[], ${v.messages}::text[],
      ${v.versions}::text[], ${v.checksums}::text[])
      AS x(id, replica, epoch, status, result, message, version, checksum))`;
  const step: TransitionStep = {
    name: "finish",
    // Each run gets its item's status: the webhook outbox CTEs go only into statements with a FAILED item.
    to: shape.to,
    sql: ({ guard, returning }) => sql`
      UPDATE task_run r SET status = x.status, result = x.result, finished_at = ${v.now}, updated_at = ${v.now}, lease_expires_at = NULL
      FROM fin_in x WHERE r.id = x.id AND ${guard} AND ${fence({ replica: sql`x.replica`, epoch: sql`x.epoch` })}
      -- The log entry keeps what a reader translates: the result (rows, the PostgreSQL error), who canceled.
      RETURNING ${returning}, x.message AS reason,
        jsonb_build_object('result', x.result, 'user', CASE WHEN x.status = 'CANCELED' THEN r.canceled_by END) AS detail`,
  };
  // Only the runs the fence let through (a run written DONE); a statement without applied changes has no such CTEs.
  const after = shape.applied
    ? (stepRel: (i: number) => RawBuilder<unknown>) => sql`ledger_add AS (
      SELECT c.instance_id AS i, c.database_name AS d, jsonb_agg(DISTINCT jsonb_build_array(x.version, x.checksum)) AS e
      FROM ${stepRel(0)} c JOIN fin_in x ON x.id = c.id WHERE c.status = 'DONE' AND x.checksum IS NOT NULL GROUP BY 1, 2
    ), eff_ledger AS (${ledgerSnapshotsAppendSql(sql.ref("ledger_add"), v.now)})`
    : undefined;
  const claim = { replicaId: v.claimReplicaId, limit: v.claimLimit, leaseTtlMs: v.claimLeaseTtlMs, now: v.claimNow };
  return prepared(
    transitionStatement({
      inputs,
      steps: shape.bucket > 0 ? [step, claimStep(claim, shape.bucket)] : [step],
      ...(after ? { after } : {}),
      extra: (rel) => (shape.bucket > 0 ? sql`${writtenIds(rel(0))}, ${claimedJson(rel(1))}` : writtenIds(rel(0))),
      listChanged: false,
      now: v.now,
      replicaId: v.replicaId,
    }),
  );
}

/**
 * The finish statement under the production fence, memoized per shape (see memoStatement): the running
 * scheduler sends one per batch of outcomes. Another fence (the chaos harness's broken one) is built afresh.
 */
export const finishMemo = memoStatement<FinishValues, string, unknown>((v, key) =>
  finishStatement(v, JSON.parse(key) as FinishShape, leaseFence),
);

function sendFinish(db: Db, items: Finish[], now: Date, fence: OwnerFence, claim?: ClaimParams) {
  const shape = finishShape(items, claim?.limit ?? 0);
  const values = finishValues(items, now, claim);
  return fence === leaseFence ? finishMemo.run(db, JSON.stringify(shape), values) : finishStatement(values, shape, fence).execute(db);
}

/**
 * RUNNING → DONE/FAILED/CANCELED for many runs in one statement (the running scheduler batches outcomes
 * that arrive while a write is in flight). Each run has its own fence (owner + epoch): a replica that
 * lost its lease changes nothing. Returns the ids written.
 */
export async function taskRunsFinish(db: Db, items: Finish[], p: { now: Date; fence?: OwnerFence }): Promise<Set<string>> {
  if (items.length === 0) return new Set();
  const { rows } = await sendFinish(db, items, p.now, p.fence ?? leaseFence);
  return parseWritten(rows[0]!);
}

/** The runs the finish step wrote (its fence let them through). */
const writtenIds = (finished: RawBuilder<unknown>) => stepIds(finished, "written");
const parseWritten = (row: unknown) => parseIds((row as { written: string }).written);

/** taskRunsFinish for one run: false when the fence did not hold. */
export async function taskRunFinish(db: Db, p: Finish & { now: Date; fence?: OwnerFence }): Promise<boolean> {
  return (await taskRunsFinish(db, [p], p)).has(p.runId);
}

/**
 * taskRunsFinish and taskRunsClaim in one statement: the slots the finished runs free are refilled in
 * the same round trip and commit. `claim.limit` may be 0.
 */
export async function taskRunsFinishAndClaim(
  db: Db,
  items: Finish[],
  p: { now: Date; fence?: OwnerFence; claim: ClaimParams },
): Promise<{ written: Set<string>; claimed: ClaimedRun[] }> {
  if (p.claim.limit <= 0) return { written: await taskRunsFinish(db, items, p), claimed: [] };
  if (items.length === 0) return { written: new Set(), claimed: await taskRunsClaim(db, p.claim) };
  const { rows } = await sendFinish(db, items, p.now, p.fence ?? leaseFence, p.claim);
  const row = rows[0]! as unknown as { claimed: ClaimedJson[]; installation_id: string };
  return { written: parseWritten(row), claimed: claimedOf(row) };
}
