import { Type, type Static } from "typebox";
import { Id, Nullable } from "./common.js";

export const EventsQuery = Type.Object(
  { rolloutId: Type.Optional(Id("Only this rollout's changes; omit for every rollout")) },
  { additionalProperties: false },
);

/**
 * `data` of the `change` event on `GET /events` (and of `ready`, without `resync`): this rollout changed,
 * refetch it. `resync` after a possible gap: anything may have changed. Events carry no tasks; a client
 * fetches `GET /rollouts/{id}/tasks?updatedSince=<cursor>`.
 */
export const ChangeEvent = Type.Object({
  rolloutId: Nullable(Id("The rollout that changed; null (with resync) for a stream of every rollout")),
  resync: Type.Optional(Type.Boolean()),
});
export type ChangeEvent = Static<typeof ChangeEvent>;
