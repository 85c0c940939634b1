import type { Db } from "../store/db.js";
import { replicaHeartbeat, replicaRegister } from "../store/replicas.js";
import type { Clock } from "./clock.js";

/**
 * How long after the start of its last successful beat a replica still counts as heartbeating: two beat
 * intervals at least (one late or failed beat is tolerated), three at most, and no more than half a lease
 * when the configuration allows it, so a replica stops claiming well before the leases it holds run out.
 */
export function heartbeatStaleAfterMs(p: { heartbeatIntervalMs: number; leaseTtlMs: number }): number {
  return Math.max(2 * p.heartbeatIntervalMs, Math.min(3 * p.heartbeatIntervalMs, p.leaseTtlMs / 2));
}

/**
 * The replica's heartbeat: refreshes the clock against the control database, records that the replica is
 * alive, then renews the leases of the runs it executes (a lost run is aborted there, a missed cancel
 * picked up). `renewLeases` is the running scheduler's.
 *
 * A replica whose beats fail, or hang past `staleAfterMs`, must not take on new runs: it could not keep
 * their leases. `healthy()` says whether it may claim; the first good beat after a bad spell calls
 * `onRecovered` so claiming resumes at once.
 */
export class Heartbeat {
  /** Monotonic time at which the last successful beat started (its writes' leases count from there). */
  private lastOkAt: number | undefined;

  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      replicaId: string;
      renewLeases: () => Promise<void>;
      staleAfterMs: number;
      onRecovered?: () => void;
      /** Executor slots, recorded with every beat (GET /replicas shows them). */
      slots?: number;
    },
  ) {}

  /** When register() wrote the replica's row (the control database's clock): the replica's start. */
  registeredAt: Date | undefined;

  /** First beat, before any loop starts: the first clock readings, then the replica's row. */
  async register(): Promise<void> {
    await this.beat(async () => {
      await this.deps.clock.sync?.();
      const now = this.deps.clock.now();
      await replicaRegister(this.deps.db, { replicaId: this.deps.replicaId, now, ...this.slots() });
      this.registeredAt = now;
    });
  }

  async runOnce(): Promise<void> {
    await this.beat(async () => {
      await this.deps.clock.sync?.();
      await replicaHeartbeat(this.deps.db, { replicaId: this.deps.replicaId, now: this.deps.clock.now(), ...this.slots() });
      await this.deps.renewLeases();
    });
  }

  /** Whether the replica may claim runs: its last beat succeeded and is recent enough. */
  healthy(): boolean {
    return this.lastOkAt !== undefined && performance.now() - this.lastOkAt < this.deps.staleAfterMs;
  }

  /** The last beat of a draining replica: it says it is stopping (it claims nothing more). */
  async stopping(): Promise<void> {
    await replicaHeartbeat(this.deps.db, { replicaId: this.deps.replicaId, now: this.deps.clock.now(), stopping: true });
  }

  private slots(): { slots?: number } {
    return this.deps.slots === undefined ? {} : { slots: this.deps.slots };
  }

  private async beat(write: () => Promise<void>): Promise<void> {
    const startedAt = performance.now();
    try {
      await write();
    } catch (err) {
      this.lastOkAt = undefined;
      throw err;
    }
    const recovered = !this.healthy();
    this.lastOkAt = startedAt;
    if (recovered && this.healthy()) this.deps.onRecovered?.();
  }
}
