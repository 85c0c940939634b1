import type { TargetReader } from "../executors/target-reader.js";
import type { Clock } from "../scheduler/clock.js";
import type { Db } from "../store/db.js";
import { instanceDatabasesFailed, instanceDatabasesReplace } from "../store/instance-databases.js";

/** Lists one instance's databases on the target and stores the list (or the error, keeping the old list). */
export async function refreshInstanceDatabases(
  deps: { db: Db; reader: TargetReader; clock: Clock },
  instance: { id: string; connectionUrl: string },
): Promise<{ ok: true; count: number } | { ok: false; error: string }> {
  const now = deps.clock.now();
  try {
    const names = await deps.reader.listDatabases(instance.connectionUrl);
    await instanceDatabasesReplace(deps.db, { instanceId: instance.id, names, now });
    return { ok: true, count: names.length };
  } catch (e) {
    const error = (e as Error).message;
    await instanceDatabasesFailed(deps.db, { instanceId: instance.id, error, now });
    return { ok: false, error };
  }
}
