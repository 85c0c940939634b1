import pg from "pg";
import { LRUCache } from "lru-cache";
import type { ControlIdentity } from "../store/control.js";

/**
 * The control plane is never a target. Runway's own database holds every instance's credentials and
 * every user, so a release statement that reaches it can make anyone an admin; a superuser session on
 * its server can run shell commands there. Every target connection is probed once (then cached per URL
 * for a short while) and refused when it is on the control cluster (same `system_identifier`) and is the
 * control database, or runs as a role that could get there or out to the server's OS.
 */

export type { ControlIdentity };

export const TargetRefusal = {
  /** The task's database is Runway's own control database. */
  TARGET_IS_CONTROL_DATABASE: "TARGET_IS_CONTROL_DATABASE",
  /** Superuser on the control cluster: can read the control database and run programs as the OS user. */
  TARGET_ROLE_IS_SUPERUSER: "TARGET_ROLE_IS_SUPERUSER",
  /** The role may connect to the control database (PUBLIC's default CONNECT, or a grant). */
  TARGET_ROLE_CAN_READ_CONTROL_DATABASE: "TARGET_ROLE_CAN_READ_CONTROL_DATABASE",
  TARGET_ROLE_BYPASSES_RLS: "TARGET_ROLE_BYPASSES_RLS",
  /** Member of pg_execute_server_program, pg_read_server_files or pg_write_server_files. */
  TARGET_ROLE_REACHES_SERVER_OS: "TARGET_ROLE_REACHES_SERVER_OS",
  /** CREATEROLE: could make itself a role with any of the above. */
  TARGET_ROLE_CREATES_ROLES: "TARGET_ROLE_CREATES_ROLES",
  /** The server would not say which cluster it is (EXECUTE on pg_control_system() revoked). */
  TARGET_IDENTITY_UNKNOWN: "TARGET_IDENTITY_UNKNOWN",
} as const;
export type TargetRefusal = (typeof TargetRefusal)[keyof typeof TargetRefusal];

export class TargetRefusedError extends Error {
  constructor(
    readonly code: TargetRefusal,
    message: string,
  ) {
    super(message);
    this.name = "TargetRefusedError";
  }
}

/** What one probe query learns about a target session. */
export interface TargetProbe {
  sysid: string;
  db: string;
  role: string;
  super: boolean;
  bypassrls: boolean;
  createrole: boolean;
  serverOs: string[];
  controlConnect: boolean | null;
}

const OS_ROLES = ["pg_execute_server_program", "pg_read_server_files", "pg_write_server_files"];

const PROBE_SQL = `SELECT s.sysid, current_database() AS db, current_user AS role, r.rolsuper AS super,
  r.rolbypassrls AS bypassrls, r.rolcreaterole AS createrole,
  ARRAY(SELECT x FROM unnest($2::text[]) x WHERE pg_has_role(current_user, x, 'MEMBER')) AS "serverOs",
  (SELECT bool_or(has_database_privilege(d.oid, 'CONNECT')) FROM pg_database d WHERE d.datname = $1) AS "controlConnect"
FROM (SELECT system_identifier::text AS sysid FROM pg_control_system()) s, pg_roles r WHERE r.rolname = current_user`;

/** Pure: why a probed session must not be used as a target, or null when it may. */
export function refusalOf(p: TargetProbe, control: ControlIdentity): TargetRefusedError | null {
  if (p.sysid !== control.systemIdentifier) return null;
  const on = `on Runway's own PostgreSQL server (system identifier ${p.sysid})`;
  const refuse = (code: TargetRefusal, why: string) =>
    new TargetRefusedError(code, `target refused: ${why} ${on}; use a role that owns only the target databases`);
  if (p.db === control.database) return refuse(TargetRefusal.TARGET_IS_CONTROL_DATABASE, `database "${p.db}" is Runway's control database`);
  if (p.super) return refuse(TargetRefusal.TARGET_ROLE_IS_SUPERUSER, `role "${p.role}" is a superuser`);
  if (p.controlConnect)
    return refuse(
      TargetRefusal.TARGET_ROLE_CAN_READ_CONTROL_DATABASE,
      `role "${p.role}" may connect to the control database "${control.database}"`,
    );
  if (p.bypassrls) return refuse(TargetRefusal.TARGET_ROLE_BYPASSES_RLS, `role "${p.role}" bypasses row-level security`);
  if (p.serverOs.length > 0)
    return refuse(TargetRefusal.TARGET_ROLE_REACHES_SERVER_OS, `role "${p.role}" is a member of ${p.serverOs.join(", ")}`);
  if (p.createrole) return refuse(TargetRefusal.TARGET_ROLE_CREATES_ROLES, `role "${p.role}" may create roles`);
  return null;
}

export class TargetGuard {
  /** URLs whose sessions passed recently: a run on a warm pool adds no round trip. */
  private readonly passed: LRUCache<string, true>;

  constructor(
    readonly control: ControlIdentity,
    opts: { ttlMs?: number } = {},
  ) {
    this.passed = new LRUCache({ max: 10_000, ttl: opts.ttlMs ?? 30_000 });
  }

  /** Probes `client` (always); throws TargetRefusedError when it must not be used. */
  async verify(client: pg.ClientBase): Promise<void> {
    let probe: TargetProbe | undefined;
    try {
      probe = (await client.query<TargetProbe>(PROBE_SQL, [this.control.database, OS_ROLES])).rows[0];
    } catch (e) {
      if ((e as { code?: string }).code !== "42501") throw e;
    }
    if (!probe) {
      throw new TargetRefusedError(
        TargetRefusal.TARGET_IDENTITY_UNKNOWN,
        "target refused: the server does not tell which cluster it is (grant EXECUTE ON FUNCTION pg_control_system() to the role)",
      );
    }
    const refusal = refusalOf(probe, this.control);
    if (refusal) throw refusal;
  }

  /** verify, at most once per `url` per TTL. */
  async check(client: pg.ClientBase, url: string): Promise<void> {
    if (this.passed.get(url)) return;
    await this.verify(client);
    this.passed.set(url, true);
  }

  /**
   * Instance creation and change: probes `url` once. Unreachable now → `reachable: false` (the check at
   * every connect still holds); refused → TargetRefusedError.
   */
  async probeUrl(url: string, timeoutMs = 5000): Promise<{ reachable: boolean }> {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, application_name: "runway target check" });
    client.on("error", () => undefined);
    try {
      await client.connect();
    } catch {
      await client.end().catch(() => undefined);
      return { reachable: false };
    }
    try {
      await this.verify(client);
      return { reachable: true };
    } catch (e) {
      if (e instanceof TargetRefusedError) throw e;
      return { reachable: false };
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
