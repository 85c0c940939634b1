import pg from "pg";

/**
 * Who a target session works for, as its application_name says:
 * `runway run <run id> in <installation tag> epoch <epoch> <replica>`.
 *
 * The name is what lets a later owner or the sweeper find a run's sessions on the target without any
 * state of ours, so it must be unambiguous across everything that can share a PostgreSQL server: other
 * Runway installations (the tag: the first 10 hex digits of the installation id — run ids restart at 1
 * in every installation), other runs, and the epochs of one run (compared as numbers by the SQL below,
 * so epoch 10 is newer than epoch 9). It fits PostgreSQL's 63 bytes: the parsed part takes at most 61
 * (run id ≤ 19 digits, epoch ≤ 10); the replica id, for people reading pg_stat_activity, gets what is
 * left. Words split by spaces keep the positions older tools parse (run id 3rd, epoch 7th, replica 8th).
 */
export interface SessionOwner {
  installationId: string;
  runId: string;
  epoch: number;
}

const MAX_NAME_BYTES = 63;
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const DIGITS = /^\d{1,19}$/;

export function installationTag(installationId: string): string {
  if (!UUID.test(installationId)) throw new Error(`malformed installation id ${installationId}`);
  return installationId.replace(/-/g, "").slice(0, 10).toLowerCase();
}

function checked(o: SessionOwner): { tag: string; run: string; epoch: number } {
  if (!DIGITS.test(o.runId)) throw new Error(`malformed run id ${o.runId}`);
  if (!Number.isSafeInteger(o.epoch) || o.epoch < 0) throw new Error(`malformed epoch ${o.epoch}`);
  return { tag: installationTag(o.installationId), run: o.runId, epoch: o.epoch };
}

/** The application_name of a session while it works for the run. */
export function runSessionName(o: SessionOwner, replicaId: string): string {
  const { tag, run, epoch } = checked(o);
  const head = `runway run ${run} in ${tag} epoch ${epoch} `;
  // Printable ASCII only (PostgreSQL shows anything else as '?'), so characters are bytes here.
  const replica = replicaId.replace(/[^A-Za-z0-9._-]/g, "_");
  return (head + replica).slice(0, MAX_NAME_BYTES);
}

/**
 * A condition on pg_stat_activity selecting the run's sessions on the current database (never our own),
 * of every epoch or only of epochs `older than` / `up to` the given one. The epoch is parsed out of the
 * name and compared as a number; a name that is not one of ours parses to NULL and never matches.
 */
export function runSessionsWhere(o: SessionOwner, epochs: "any" | "older" | "up to"): string {
  const { tag, run, epoch } = checked(o);
  const pattern = pg.escapeLiteral(`^runway run ${run} in ${tag} epoch ([0-9]{1,18})(?: |$)`);
  const parsed = `substring(application_name FROM ${pattern})::bigint`;
  const cmp = epochs === "any" ? `${parsed} IS NOT NULL` : `${parsed} ${epochs === "older" ? "<" : "<="} ${epoch}`;
  return `datname = current_database() AND pid <> pg_backend_pid() AND ${cmp}`;
}

/**
 * The target fence: ends the sessions a zombie owner of an older epoch may still hold for this run (an
 * open transaction that must never commit after the takeover). Scoped to this installation, this run,
 * this database and older epochs: a newer owner's session, or another installation's run with the same
 * id, is never touched. One small function so the chaos harness's broken build can swap it.
 */
export function targetFenceSql(o: SessionOwner): string {
  return `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE ${runSessionsWhere(o, "older")}`;
}
