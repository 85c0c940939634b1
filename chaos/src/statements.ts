/**
 * SQL the harness puts into target databases. Every transactional task statement journals itself:
 * `chaos_begin` records who runs it (run, attempt, epoch and replica from the executor's application_name,
 * task id and version from the ledger row the executor inserted earlier in the same transaction) and the
 * target's clock; a deferred trigger stamps the moment of COMMIT. A rolled-back attempt leaves nothing.
 */
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
  committed_at timestamptz
);
CREATE TABLE chaos_schema (id integer);
CREATE TABLE chaos_data (marker text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());

-- application_name is "runway run <runId> attempt <n> epoch <e> <replicaId>".
CREATE FUNCTION chaos_begin(p_marker text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  app text := current_setting('application_name');
  w text[] := string_to_array(app, ' ');
BEGIN
  IF w[1] IS DISTINCT FROM 'runway' OR w[2] IS DISTINCT FROM 'run' THEN
    RAISE EXCEPTION 'chaos: unexpected application_name %', app;
  END IF;
  INSERT INTO chaos_journal (marker, task_id, attempt, run_id, epoch, replica, schema_version, app, started_at)
  SELECT p_marker, l.task_id, l.attempt, w[3]::bigint, w[7]::integer, w[8], l.schema_version, app, clock_timestamp()
  FROM (SELECT 1) AS one LEFT JOIN public.runway_ledger l ON l.run_id = w[3]::bigint;
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

export type StatementKind = "schema" | "sdl" | "data" | "fail" | "cancel" | "nontx" | "create" | "ballast";

/** The statement of one task; `key` is its unique marker (also a valid identifier suffix). */
export function statementFor(kind: StatementKind, key: string, sleepMs: number): string {
  const sleep = `SELECT pg_sleep(${(sleepMs / 1000).toFixed(3)});`;
  const wrap = (body: string) => [`SELECT chaos_begin('${key}');`, sleep, body, `SELECT chaos_end('${key}');`].join("\n");
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
    case "create":
      return "";
  }
}
