/**
 * SQL the harness puts into target databases. Every transactional task statement journals itself:
 * `chaos_begin` records who runs it (run, attempt, epoch and replica from the executor's application_name,
 * task id and version from the ledger row the executor inserted earlier in the same transaction) and the
 * target's clock; a deferred trigger stamps the moment of COMMIT. A rolled-back attempt leaves nothing.
 */
/** Advisory lock key (two int4) every sequential chaos statement holds shared for its transaction. */
export const GATE_LOCK = [7302, 1] as const;

export const TARGET_SETUP = `
CREATE TABLE chaos_journal (
  id bigserial PRIMARY KEY,
  marker text NOT NULL,
  task_id bigint,
  attempt integer,
  run_id bigint NOT NULL,
  epoch integer NOT NULL,
  replica text NOT NULL,
  schema_version text,
  app text NOT NULL,
  started_at timestamptz NOT NULL,
  ended_at timestamptz,
  committed_at timestamptz,
  -- The session that ran it, and the other sequential transactions still open on this database when it
  -- began (see GATE_LOCK below); an empty list unless a gate was freed early.
  pid integer,
  backend_start timestamptz,
  open_beside jsonb
);
-- Sequential statements that began while another one's transaction was open, counted outside any
-- transaction (nextval is never rolled back): a rolled-back attempt's journal row is gone, its count is not.
CREATE SEQUENCE chaos_overlap_seen;
CREATE TABLE chaos_schema (id integer);
-- One row, indexed by the "cic" tasks: CREATE INDEX CONCURRENTLY on an expression that sleeps (see below).
CREATE TABLE chaos_cic (id integer);
INSERT INTO chaos_cic VALUES (1);
CREATE SEQUENCE chaos_cic_overlap_seen;
CREATE TABLE chaos_data (marker text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());

-- application_name is "runway run <runId> in <installation tag> epoch <e> <replicaId>" (executors/session-name.ts).
-- A sequential statement (p_sequential) takes a shared transaction-level advisory lock, GATE_LOCK, held
-- until its transaction ends (COMMIT, rollback, or the session's death), and lists the other holders:
-- sequential transactions still open on this database. pg_locks is read live, so the list is exact at
-- the moment the statement begins; no sampling.
CREATE FUNCTION chaos_begin(p_marker text, p_sequential boolean DEFAULT false) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  app text := current_setting('application_name');
  w text[] := string_to_array(app, ' ');
  others jsonb;
BEGIN
  IF w[1] IS DISTINCT FROM 'runway' OR w[2] IS DISTINCT FROM 'run' THEN
    RAISE EXCEPTION 'chaos: unexpected application_name %', app;
  END IF;
  IF p_sequential THEN
    PERFORM pg_advisory_xact_lock_shared(${GATE_LOCK[0]}, ${GATE_LOCK[1]});
    -- The executor's fence read pg_stat_activity earlier in this transaction: read it afresh.
    PERFORM pg_stat_clear_snapshot();
    -- Open sequential transactions (gate lock holders), and "cic" statements still executing.
    SELECT jsonb_agg(jsonb_build_object('pid', o.pid, 'app', a.application_name, 'state', a.state,
                                        'xactStart', a.xact_start, 'backendStart', a.backend_start))
      INTO others
      FROM (SELECT l.pid FROM pg_locks l
            WHERE l.locktype = 'advisory' AND l.classid = ${GATE_LOCK[0]} AND l.objid = ${GATE_LOCK[1]} AND l.objsubid = 2
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND l.granted
            UNION
            SELECT s.pid FROM pg_stat_activity s
            WHERE s.datname = current_database() AND s.state = 'active' AND s.query LIKE '%chaos_cic_probe(%') AS o
      LEFT JOIN pg_stat_activity a ON a.pid = o.pid
      WHERE o.pid <> pg_backend_pid();
    IF others IS NOT NULL THEN PERFORM nextval('chaos_overlap_seen'); END IF;
  END IF;
  INSERT INTO chaos_journal (marker, task_id, attempt, run_id, epoch, replica, schema_version, app, started_at, pid, backend_start, open_beside)
  SELECT p_marker, l.task_id, l.attempt, w[3]::bigint, w[7]::integer, w[8], l.schema_version, app, clock_timestamp(),
         pg_backend_pid(), (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()), others
  FROM (SELECT 1) AS one LEFT JOIN public.runway_ledger l ON l.run_id = w[3]::bigint;
END $$;

-- The expression of a "cic" task's index, evaluated once while the index is built, outside any transaction
-- the executor controls (a non-transactional, non-re-runnable schema change that outlasts a lease).
-- IMMUTABLE is a lie the index needs. It cannot write a journal row (no writes in an immutable function),
-- so it only counts, in a sequence, a sequential transaction already open when this statement began and
-- still open now. Sequential statements that begin while it runs see it themselves (chaos_begin).
CREATE FUNCTION chaos_cic_probe(p_sleep float8, p_id integer) RETURNS integer LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  PERFORM pg_stat_clear_snapshot();
  IF EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.classid = ${GATE_LOCK[0]} AND l.objid = ${GATE_LOCK[1]} AND l.objsubid = 2
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND l.granted AND l.pid <> pg_backend_pid()
               AND a.xact_start < (SELECT query_start FROM pg_stat_activity WHERE pid = pg_backend_pid())) THEN
    PERFORM nextval('public.chaos_cic_overlap_seen'); -- index builds run with search_path = pg_catalog
  END IF;
  PERFORM pg_sleep(p_sleep);
  RETURN p_id;
END $$;

CREATE FUNCTION chaos_end(p_marker text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  UPDATE chaos_journal SET ended_at = clock_timestamp()
  WHERE marker = p_marker AND ended_at IS NULL AND app = current_setting('application_name');
END $$;

CREATE FUNCTION chaos_fail(p_marker text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'chaos: deliberate failure of %', p_marker;
END $$;

CREATE FUNCTION chaos_stamp_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE chaos_journal SET committed_at = clock_timestamp() WHERE id = NEW.id;
  RETURN NULL;
END $$;
-- Deferred: fires inside COMMIT, so committed_at is when the transaction committed (target clock).
CREATE CONSTRAINT TRIGGER chaos_commit_stamp AFTER INSERT ON chaos_journal
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION chaos_stamp_commit();
`;

export const DELIBERATE_FAILURE = "chaos: deliberate failure of";

export type StatementKind = "schema" | "sdl" | "data" | "fail" | "cancel" | "nontx" | "cic" | "create" | "ballast";

/** The statement of one task; `key` is its unique marker (also a valid identifier suffix). */
export function statementFor(kind: StatementKind, key: string, sleepMs: number): string {
  const sleep = `SELECT pg_sleep(${(sleepMs / 1000).toFixed(3)});`;
  const begin = kind === "schema" || kind === "sdl" ? `SELECT chaos_begin('${key}', true);` : `SELECT chaos_begin('${key}');`;
  const wrap = (body: string) => [begin, sleep, body, `SELECT chaos_end('${key}');`].join("\n");
  switch (kind) {
    case "schema":
      return wrap(`ALTER TABLE chaos_schema ADD COLUMN c_${key} integer;`);
    case "sdl":
      return wrap(`CREATE TABLE chaos_sdl_${key} (id integer PRIMARY KEY);`);
    case "data":
    case "cancel":
    case "ballast":
      return wrap(`INSERT INTO chaos_data (marker) VALUES ('${key}');`);
    case "fail":
      return wrap(`SELECT chaos_fail('${key}');`);
    case "nontx":
      // Runs outside a transaction (so it is not journaled, and recovery never re-runs it).
      return `-- chaos ${key}\nVACUUM chaos_data`;
    case "cic":
      // A sequential change outside a transaction (never re-run by recovery) that sleeps while it runs.
      // IF NOT EXISTS: an operator's retry after a lost owner finds what the first attempt left.
      return `CREATE INDEX CONCURRENTLY IF NOT EXISTS chaos_cic_${key} ON chaos_cic ((chaos_cic_probe(${(sleepMs / 1000).toFixed(3)}, id)))`;
    case "create":
      return "";
  }
}
