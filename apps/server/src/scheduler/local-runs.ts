import type { ClaimedRun } from "../store/transitions/claim.js";
import type { SlotClaim } from "../store/transitions/claim.js";
import type { RunningScheduler } from "./running-scheduler.js";

/**
 * Where the API's new runs may start at once: the replica's own running scheduler (RunningScheduler.create),
 * attached once the replica has built its loops. The HTTP app is built first (replica.ts), and an app without
 * a running scheduler (tests, a replica still starting) creates runs that claim nothing: the NOTIFY wakes
 * whichever replica claims them.
 */
export class LocalRuns {
  private running: Pick<RunningScheduler, "create"> | undefined;

  attach(running: Pick<RunningScheduler, "create">): void {
    this.running = running;
  }

  create<T extends { claimed: ClaimedRun[] }>(make: (claim: SlotClaim | undefined) => Promise<T>): Promise<T> {
    return this.running ? this.running.create(make) : make(undefined);
  }
}
