import type { Db } from "../store/db.js";
import { replicaHeartbeat } from "../store/replicas.js";
import type { Clock } from "./clock.js";

/**
 * The replica's heartbeat: records that it is alive, then renews the leases of the runs it executes (a
 * lost run is aborted there, a missed cancel picked up). `renewLeases` is the running scheduler's.
 */
export class Heartbeat {
  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      replicaId: string;
      renewLeases: () => Promise<void>;
    },
  ) {}

  async runOnce(): Promise<void> {
    await replicaHeartbeat(this.deps.db, { replicaId: this.deps.replicaId, now: this.deps.clock.now() });
    await this.deps.renewLeases();
  }

  /** The last beat of a draining replica: it says it is stopping (it claims nothing more). */
  async stopping(): Promise<void> {
    await replicaHeartbeat(this.deps.db, { replicaId: this.deps.replicaId, now: this.deps.clock.now(), stopping: true });
  }
}
