import type { SecretBox } from "../secrets/secret-box.js";
import type { TargetGuard } from "./target-guard.js";

/** How PostgresExecutor bounds and pools its target sessions (set by replica.ts from the configuration). */
export interface PostgresExecutorOptions {
  statementTimeoutMs: number;
  /** Bound on opening a target connection; default 10 s. */
  connectTimeoutMs?: number;
  /**
   * Client-side bound on the queries Runway issues itself (ledger, fence, session reset, ROLLBACK), and the
   * margin added to statement_timeout for the statement's own query; default 10 s.
   */
  queryTimeoutMs?: number;
  /** After an abort, how long the statement may take to end before our end of its session is closed; default 5 s. */
  cancelTimeoutMs?: number;
  /** Silence before TCP keepalive probes start (then 10 probes 1 s apart); default 10 s. */
  keepAliveIdleMs?: number;
  /**
   * How long a run's target transaction may sit idle (PostgreSQL then ends the session). Less than a lease
   * (main.ts: three quarters): the lease check right before COMMIT renews the lease, so an owner frozen
   * after it loses its transaction before the lease can expire — before anyone can take the run over or
   * the sweeper can end it — and can never commit afterwards. A live owner that was merely slow gets RETRY.
   */
  idleInTransactionTimeoutMs?: number;
  /**
   * How long the ledger row of a statement that ran outside a transaction (applied, so never re-run) is
   * tried again on fresh sessions when writing it fails; default 60 s. replica.ts passes the target-retry
   * window (RUNWAY_TARGET_RETRY_S).
   */
  ledgerRetryMs?: number;
  /** Pooled sessions per target database; default 10. */
  poolSize?: number;
  /** Target databases that keep idle sessions; default 32. */
  maxPools?: number;
  poolIdleMs?: number;
  /** Refuses target sessions that reach the control plane (always set by main.ts). */
  guard?: TargetGuard;
  /** Opens the claimed run's sealed connection URL (always set by main.ts). */
  secrets?: SecretBox;
}
