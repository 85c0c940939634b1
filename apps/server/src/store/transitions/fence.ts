import { sql, type RawBuilder } from "kysely";

/**
 * What makes an owner's write safe: an SQL condition on the run row `r` given the writer's replica id and
 * lease epoch. Production uses leaseFence; the chaos harness's self-test injects a broken one to prove
 * its fencing invariant notices (chaos/src/broken-replica.ts). The builder's status guard (RUNNING)
 * applies either way.
 */
export type OwnerFence = (writer: { replica: RawBuilder<unknown>; epoch: RawBuilder<unknown> }) => RawBuilder<unknown>;

/** The run is still this replica's, in the claim (epoch) the writer holds. */
export const leaseFence: OwnerFence = (w) => sql`r.owner_replica = ${w.replica} AND r.lease_epoch = ${w.epoch}`;

/**
 * How a pass or a sweep makes replicas take turns: an SQL condition that is true when this transaction
 * may go ahead. Production uses advisoryLock; the chaos harness's self-test injects one that lets every
 * replica through.
 */
export type PassLock = (key: number, idleTimeoutMs: number) => RawBuilder<unknown>;

/**
 * pg_try_advisory_xact_lock without waiting. `idleTimeoutMs` bounds how long the lock can outlive a
 * frozen holder: PostgreSQL ends a session idle in its transaction that long (a SIGSTOPped replica
 * between two statements), which releases the lock.
 */
export const advisoryLock: PassLock = (key, idleTimeoutMs) => sql`${idleBound(idleTimeoutMs)} IS NOT NULL
    AND pg_try_advisory_xact_lock(${key})`;

/**
 * An SQL expression that sets how long this transaction's session may sit idle before PostgreSQL ends it
 * (whole milliseconds, at least 100), for the rest of the transaction: the pass lock's bound, and the full
 * pass's sessions (store/gating-full.ts).
 */
export const idleBound = (ms: number) => sql`set_config('idle_in_transaction_session_timeout', ${String(idleBoundMs(ms))}, true)`;

/** The bound idleBound sets for `ms`: whole milliseconds, at least 100. */
export const idleBoundMs = (ms: number) => Math.max(100, Math.round(ms));
