import { sql } from "kysely";
import type { Db } from "./db.js";

/** This installation's control database, read once at startup. */
export interface ControlIdentity {
  systemIdentifier: string;
  database: string;
}

/** Which PostgreSQL cluster and database the control plane is: targets that reach it are refused. */
export async function controlIdentity(db: Db): Promise<ControlIdentity> {
  const { rows } = await sql<{ sysid: string; db: string }>`
    SELECT system_identifier::text AS sysid, current_database() AS db FROM pg_control_system()`.execute(db);
  return { systemIdentifier: rows[0]!.sysid, database: rows[0]!.db };
}
