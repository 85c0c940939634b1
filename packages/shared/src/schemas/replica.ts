import { Type, type Static } from "typebox";
import { Nullable, Timestamp } from "./common.js";

/** One live replica and its executor slots (issue 14 point 6). */
export const ReplicaCapacity = Type.Object({
  id: Type.String({ examples: ["web-1-4242-a1b2"] }),
  startedAt: Timestamp(),
  heartbeatAt: Timestamp(),
  stopping: Type.Boolean({ description: "Draining: it claims nothing more" }),
  slots: Nullable(
    Type.Integer({ minimum: 0, description: "Executor slots (RUNWAY_CONCURRENCY); null for a replica of a release that does not say" }),
  ),
  busy: Type.Integer({ minimum: 0, description: "Runs it executes now (RUNNING, owned by it)" }),
});
export type ReplicaCapacity = Static<typeof ReplicaCapacity>;

export const CapacitySummary = Type.Object({
  live: Type.Integer({ minimum: 0, description: "Replicas with a recent heartbeat" }),
  slots: Type.Integer({ minimum: 0, description: "Slots of the live replicas that are not stopping (known ones)" }),
  busy: Type.Integer({ minimum: 0, description: "Runs executing on those replicas" }),
  allBusy: Type.Boolean({
    description: "Every live replica that may claim has all its slots in use: AVAILABLE runs wait for a free executor",
  }),
});
export type CapacitySummary = Static<typeof CapacitySummary>;

export const ReplicaList = Type.Object({ replicas: Type.Array(ReplicaCapacity), capacity: CapacitySummary });
export type ReplicaList = Static<typeof ReplicaList>;
