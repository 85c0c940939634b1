/** What one live replica says about its executor slots (the replica table plus its RUNNING runs). */
export interface ReplicaSlots {
  /** Executor slots; null when the replica's release does not record them. */
  slots: number | null;
  /** Runs it executes now. */
  busy: number;
  /** Draining: it claims nothing more, so its free slots are no one's. */
  stopping: boolean;
}

export interface Capacity {
  live: number;
  /** Slots of the replicas that may claim and say how many they have. */
  slots: number;
  /** Runs executing on those replicas. */
  busy: number;
  /** Every replica that may claim has all its slots in use: an AVAILABLE run waits for a free executor. */
  allBusy: boolean;
}

/**
 * Executor capacity across the live replicas, and whether AVAILABLE runs wait for a free executor. Only
 * when that is certain: with no replica that may claim, or one whose slots are unknown (a replica of the
 * previous release during a rolling upgrade), AVAILABLE runs are not said to wait for a slot.
 */
export function capacityOf(replicas: readonly ReplicaSlots[]): Capacity {
  const claiming = replicas.filter((r) => !r.stopping);
  const known = claiming.filter((r): r is ReplicaSlots & { slots: number } => r.slots !== null);
  const slots = known.reduce((n, r) => n + r.slots, 0);
  const busy = known.reduce((n, r) => n + r.busy, 0);
  const allBusy = claiming.length > 0 && known.length === claiming.length && known.every((r) => r.busy >= r.slots);
  return { live: replicas.length, slots, busy, allBusy };
}
