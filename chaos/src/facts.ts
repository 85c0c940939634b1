import type { FaultKind } from "./fault-kinds.js";
import type { WebhookFacts } from "./webhooks.js";

/** What the checks look at: rows read from the control database and the targets after quiescence. */

export interface TaskRow {
  id: string;
  rolloutId: string;
  type: string;
  database: string;
  schemaVersion: string | null;
  status: string;
  limit: number;
}

export interface RunRow {
  id: string;
  taskId: string;
  attempt: number;
  status: string;
  runAt: Date | null;
  result: { error?: { message?: string; code?: string } } | null;
}

export interface LogRow {
  runId: string;
  at: Date;
  type: string;
  replica: string | null;
  /** STATUS entries: `by` is the actor (owner, sweeper, api, …); the sweeper's name the lost `owner`. */
  payload: { status?: string; epoch?: number; message?: string; by?: string; owner?: string };
}

export interface JournalRow {
  db: string;
  marker: string;
  taskId: string | null;
  attempt: number | null;
  runId: string;
  epoch: number;
  replica: string;
  schemaVersion: string | null;
  startedAt: Date;
  committedAt: Date | null;
  /** The target session (backend pid) that ran it. */
  pid?: number | null;
  /** Sequential statements only: other sequential transactions open on the database when it began. */
  overlaps?: OpenSession[] | null;
}

/** A target session seen holding the gate lock (see GATE_LOCK in statements.ts). */
export interface OpenSession {
  pid: number;
  app: string | null;
  state: string | null;
  xactStart: string | null;
}

export interface LedgerRow {
  db: string;
  taskId: string;
  attempt: number;
  runId: string;
  schemaVersion: string | null;
}

export interface Facts {
  tasks: TaskRow[];
  runs: RunRow[];
  logs: LogRow[];
  journal: JournalRow[];
  ledger: LedgerRow[];
  /** Rows in chaos_data per marker (a data update applied twice leaves two). */
  dataRows: Map<string, number>;
  /** Markers whose schema change is present (a column of chaos_schema, or a chaos_sdl_ table). */
  schemaApplied: Set<string>;
  databases: Set<string>;
  /** Sequential statements (committed or not) that began while another one's transaction was open. */
  overlapsSeen?: number;
  /** "cic" statements (CREATE INDEX CONCURRENTLY, no journal row) that ran beside an older open sequential transaction. */
  cicOverlapsSeen?: number;
  /** Waiting causes of PENDING runs at the end (run id → "TYPE {cause}"). */
  waits?: Map<string, string>;
  /** Webhook events, deliveries and what the flaky receiver read (webhooks.ts). */
  webhooks?: WebhookFacts;
}

/** What the harness did, recorded as it went. */
export interface FaultEvent {
  kind: FaultKind;
  replica: string;
  at: number;
  /** Runs the victim owned (RUNNING) just before the signal. */
  runs: { id: string; epoch: number }[];
  /** Freeze: when it was resumed. Kill: when its slot's next process was ready. */
  endedAt: number;
  /** Freeze: advisory locks (scheduler loops' keys) the frozen replica's sessions held right after SIGSTOP. */
  heldLocks?: string[];
  /** Network and clock faults: what exactly (e.g. "severed", "resumed", "+240 s"). */
  detail?: string;
  /** Set on an event that is a step of another fault (the kill that ends a clock skew). */
  partOf?: FaultKind;
}

export interface CancelEvent {
  taskKey: string;
  runId: string;
  owner: string;
  via: string;
  at: number;
  /** HTTP status and the outcome the API reported (CANCEL_REQUESTED, CANCELED) or the error code. */
  status: number;
  outcome: string;
}

export interface HarnessLog {
  faults: FaultEvent[];
  cancels: CancelEvent[];
  /** Tasks re-run through the API after their non-re-runnable run failed with its owner. */
  retries: string[];
  crashes: string[];
  /** When the fault window ended and every fault was healed (harness clock). */
  healedAt?: number;
  /** When quiescence ended and the facts were read (harness clock). */
  readAt?: number;
}

/** One invariant's verdict. */
export interface CheckResult {
  name: string;
  ok: boolean;
  /** What was checked, in numbers. */
  detail: string;
  violations: string[];
}
