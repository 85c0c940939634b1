import pg from "pg";
import { TargetRefusedError, type TargetGuard } from "./target-guard.js";

export interface ConnectionTest {
  reachable: boolean;
  latencyMs: number;
  serverVersion?: string;
  /** Databases the instance's role may connect to (templates left out), by name. */
  databases?: string[];
  error?: string;
}

/**
 * "Test connection" on the instances page: connect once as the instance's role, pass the target guard
 * (a URL that reaches the control plane is reported, never used), and read the version and the databases.
 * One short-lived client, never a pooled one, so a test cannot disturb running tasks.
 */
export async function testTargetConnection(guard: TargetGuard, url: string, timeoutMs = 5000): Promise<ConnectionTest> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
    application_name: "runway connection test",
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await guard.verify(client);
    const { rows } = await client.query<{ version: string; databases: string[] | null }>(
      `SELECT current_setting('server_version') AS version,
        (SELECT array_agg(datname::text ORDER BY datname) FROM pg_database
          WHERE datallowconn AND NOT datistemplate AND has_database_privilege(datname, 'CONNECT')) AS databases`,
    );
    return { reachable: true, latencyMs: ms(), serverVersion: rows[0]!.version, databases: rows[0]!.databases ?? [] };
  } catch (e) {
    const message = e instanceof TargetRefusedError ? e.message : e instanceof Error ? e.message : String(e);
    return { reachable: false, latencyMs: ms(), error: message };
  } finally {
    await client.end().catch(() => undefined);
  }
}
