import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { rolloutExists } from "../../../store/rollout-reads.js";
import { ApiError, ErrorCode, notFound } from "../../../plugins/app/api-error.js";
import { errorResponses, EventsQuery } from "@runway/shared/schemas";
import type { ChangeEvent } from "@runway/shared/schemas";
import { hasRole } from "../../../plugins/app/auth.js";
import { assertRolloutReadable, rolloutVisibility } from "../../../plugins/app/project-access.js";

const eventRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app.ctx;
  app.get(
    "/events",
    {
      // "manual": @fastify/sse's own 406 body is not our error envelope, so Accept is checked below.
      sse: "manual",
      config: { auth: "viewer" },
      schema: {
        tags: ["events"],
        summary: "Server-Sent Events: task and run changes",
        description:
          '`text/event-stream`. First `event: ready`, then `event: change` with `data: {"rolloutId": "12"}` whenever a task or run of the ' +
          "rollout changes on any replica (fed by PostgreSQL LISTEN/NOTIFY; bursts coalesced to one event per rollout per 100 ms). " +
          "`resync: true` means events may have been missed: refetch. Either way, `GET /rollouts/{id}/tasks?updatedSince=<cursor>` " +
          "fetches only the tasks that changed. Comment lines every 15 s keep the connection open. " +
          "Open streams are capped per user and per replica (429 past either). A stream ends, after `event: end` with " +
          '`data: {"reason": …}`, when its session or token ends, its user is disabled, or may no longer read it.',
        querystring: EventsQuery,
        response: { ...errorResponses },
      },
    },
    async (req, reply) => {
      const accept = req.headers.accept;
      if (accept && !/text\/event-stream|\*\/\*|text\/\*/.test(accept)) {
        throw new ApiError(
          406,
          ErrorCode.INVALID_ARGUMENT,
          "this endpoint only produces text/event-stream; send Accept: text/event-stream",
        );
      }
      const rolloutId = req.query.rolloutId ?? null;
      if (rolloutId !== null && !(await rolloutExists(db, rolloutId))) throw notFound(`rollout ${rolloutId} not found`);
      if (rolloutId !== null) await assertRolloutReadable(db, req.user!, rolloutId);
      // Changes of projects hidden from the user (a `none` project role) are not sent.
      const visible = await rolloutVisibility(db, req.user!);
      const send = (ev: ChangeEvent) => void reply.sse.send({ event: "change", data: ev }).catch(() => undefined);
      const release = app.streams.admit({
        user: req.user!,
        allowed: (user) => hasRole(user, "viewer"),
        // Tell the client why before closing: an EventSource would otherwise just reconnect.
        close: (reason) =>
          void reply.sse
            .send({ event: "end", data: { reason } })
            .catch(() => undefined)
            .finally(() => reply.sse.close()),
      });
      reply.sse.keepAlive();
      // Subscribe before "ready": a client that saw "ready" and then fetched has missed nothing.
      const unsubscribe = app.changeFeed.subscribe(rolloutId, {
        send: (ev) => {
          if (!visible || ev.rolloutId === null) return send(ev);
          void visible(ev.rolloutId).then(
            (ok) => ok && send(ev),
            () => undefined,
          );
        },
        close: () => reply.sse.close(),
      });
      reply.sse.onClose(() => {
        unsubscribe();
        release();
      });
      await reply.sse.send({ event: "ready", data: { rolloutId }, retry: 2000 });
    },
  );
};

export default eventRoutes;
