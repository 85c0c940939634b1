/**
 * A replica with one safety mechanism deliberately broken, for the harness's self-tests: they must see
 * the invariants fail. Started by ReplicaSet instead of apps/server/src/main.ts (`--break KIND`):
 *
 * - `lock`: pending passes take no lock, so replicas promote side by side (breaks invariants 3–5);
 * - `fencing`: owner writes ignore owner and epoch, lease checks always answer "still yours", and the
 *   executor does not end older epochs' target sessions (breaks invariant 6);
 * - `gate`: the sweeper settles an orphaned run without terminating its target sessions or reading the
 *   ledger ("not applied", at once), so it frees the database while the statement still runs (breaks
 *   invariant 9).
 *
 * The server itself has no switch for this: the broken parts are injected here as alternative
 * strategies (ReplicaOverrides).
 */
import { sql } from "kysely";
import { loadConfig, startReplica, type ReplicaOverrides } from "@runway/server";
import { PostgresExecutor } from "@runway/server/executors";

class UnfencedExecutor extends PostgresExecutor {
  protected override fenceSql(): string {
    return "";
  }
}

export const BROKEN: Record<"lock" | "fencing" | "gate", ReplicaOverrides> = {
  lock: { passLock: () => sql`true` },
  fencing: {
    ownership: { fence: () => sql`true`, owns: () => true },
    executor: (o) => new UnfencedExecutor(o),
  },
  gate: { reconciler: { reconcile: async () => ({ state: "not_applied" }) } },
};

const kind = process.argv[2];
if (kind !== "lock" && kind !== "fencing" && kind !== "gate") {
  console.error(`usage: broken-replica.ts lock|fencing|gate (got ${kind})`);
  process.exit(2);
}
startReplica(loadConfig(), BROKEN[kind]).catch((err) => {
  console.error(err);
  process.exit(1);
});
