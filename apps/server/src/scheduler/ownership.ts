import { leaseFence, type OwnerFence } from "../store/runs.js";

/**
 * The rules that keep a replica that lost a run from acting on it: the SQL condition of its writes, and
 * whether a lease check's answer lets it go on (commit on the target, keep executing). Injected so the
 * chaos harness's self-test can run a replica with broken rules (chaos/src/broken-replica.ts) and prove
 * its fencing invariant notices; production always uses leaseOwnership.
 */
export interface Ownership {
  fence: OwnerFence;
  owns(check: "owned" | "lost"): boolean;
}

export const leaseOwnership: Ownership = { fence: leaseFence, owns: (check) => check === "owned" };
