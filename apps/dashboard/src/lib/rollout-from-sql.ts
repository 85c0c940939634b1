import { TaskType } from "@runway/shared";
import type { RolloutCreate } from "@runway/shared/schemas";
import { splitSql } from "./sql-split";

export interface SqlRolloutForm {
  title: string;
  environment: string;
  instanceId: string;
  /** Database names, separated by commas, spaces or lines. */
  databases: string;
  type: typeof TaskType.DATABASE_SCHEMA_UPDATE | typeof TaskType.DATABASE_DATA_UPDATE;
  /** Optional; with several statements the n-th gets `<version>.<n>` so they run in order. */
  schemaVersion: string;
  sql: string;
}

export const DATABASE_NAME = /^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/;

export function parseDatabases(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter(Boolean))];
}

/** One task per statement and database, in one stage; the server validates the rest. */
export function rolloutFromSql(f: SqlRolloutForm): RolloutCreate {
  const statements = splitSql(f.sql);
  const version = f.schemaVersion.trim();
  const tasks = parseDatabases(f.databases).flatMap((database) =>
    statements.map((statement, i) => ({
      type: f.type,
      instanceId: f.instanceId.trim(),
      database,
      statement,
      schemaVersion: version ? (statements.length > 1 ? `${version}.${i + 1}` : version) : null,
    })),
  );
  return { title: f.title.trim(), stages: [{ environment: f.environment.trim(), tasks }] };
}

/** What keeps the form from being sent (i18n keys under a11y.create), empty when it may be. */
export function formProblems(f: SqlRolloutForm): string[] {
  const problems: string[] = [];
  if (!f.title.trim()) problems.push("needTitle");
  if (!f.environment.trim()) problems.push("needEnvironment");
  if (!f.instanceId.trim()) problems.push("needInstance");
  const dbs = parseDatabases(f.databases);
  if (dbs.length === 0) problems.push("needDatabase");
  else if (dbs.some((d) => !DATABASE_NAME.test(d))) problems.push("badDatabase");
  if (splitSql(f.sql).length === 0) problems.push("needSql");
  return problems;
}
