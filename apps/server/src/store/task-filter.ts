import { sql, type RawBuilder } from "kysely";
import type { TaskFilter } from "@runway/shared/schemas";

/**
 * A TaskFilter as a SQL condition on `task t` (the rollout condition is the caller's). The only place a
 * filter becomes SQL, so a list and a bulk action "on everything matching" can never disagree.
 */
export function taskFilterSql(f: TaskFilter): RawBuilder<boolean> {
  const parts: RawBuilder<unknown>[] = [];
  if (f.status && f.status.length > 0) parts.push(sql`t.status = ANY(${f.status}::text[])`);
  return parts.length === 0 ? sql<boolean>`true` : sql<boolean>`(${sql.join(parts, sql` AND `)})`;
}
