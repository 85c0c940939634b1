import { Readable } from "node:stream";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { errorResponses, FailureGroups, RolloutParams, TaskFilterFields, TaskSortFields, type Task } from "@runway/shared/schemas";
import { stageNames, taskFailureGroups, taskQueryAll } from "../../../store/task-query.js";
import { csvLine, runDurationMs } from "../../../domain/task-csv.js";

const tags = ["tasks"];
const ExportQuery = Type.Object({ ...TaskFilterFields, ...TaskSortFields }, { additionalProperties: false });
const GroupsQuery = Type.Object(TaskFilterFields, { additionalProperties: false });

export const CSV_HEADER = [
  "id",
  "stage",
  "instance",
  "database",
  "type",
  "schema_version",
  "status",
  "attempt",
  "started_at",
  "finished_at",
  "duration_ms",
  "error_code",
  "error_message",
  "statement",
];

function csvRow(t: Task, stages: Map<string, string>): string {
  const run = t.latestRun;
  const err = run?.result?.error;
  return csvLine([
    t.id,
    stages.get(t.stageId) ?? t.stageId,
    t.instanceId,
    t.database,
    t.type,
    t.schemaVersion,
    t.status,
    run?.attempt ?? null,
    run?.startedAt ?? null,
    run?.finishedAt ?? null,
    runDurationMs(run?.startedAt ?? null, run?.finishedAt ?? null),
    err?.code ?? null,
    err?.message ?? null,
    t.statement,
  ]);
}

/** Views over a rollout's tasks beyond the list: failure groups and the CSV export, with the list's filter. */
const taskViewRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app.ctx;

  app.get(
    "/rollouts/:rolloutId/tasks/failure-groups",
    {
      config: { auth: "viewer" },
      schema: {
        tags,
        summary: "The filter's FAILED tasks grouped by error code",
        description:
          "Groups by the SQLSTATE of each task's latest run (`none`: failed without one), biggest first, at most 200. " +
          "List a group's tasks with `errorCode` on the task list.",
        params: RolloutParams,
        querystring: GroupsQuery,
        response: { 200: FailureGroups, ...errorResponses },
      },
    },
    async (req) => ({ groups: await taskFailureGroups(db, req.params.rolloutId, req.query) }),
  );

  app.get(
    "/rollouts/:rolloutId/tasks/export",
    {
      config: { auth: "viewer" },
      schema: {
        tags,
        summary: "The filtered, sorted task list as CSV (streamed)",
        description: "Same filter and sort as the task list, every matching task, one row each with its latest run. UTF-8, RFC 4180.",
        params: RolloutParams,
        querystring: ExportQuery,
        produces: ["text/csv"],
        response: { 200: Type.String({ description: "CSV" }), ...errorResponses },
      },
    },
    async (req, reply) => {
      const { sort = "id", order = "asc", ...filter } = req.query;
      const rolloutId = req.params.rolloutId;
      const pages = taskQueryAll(db, { rolloutId, filter, sort, order });
      // Read the first page before answering, so an unknown rollout is a JSON 404 rather than a broken stream.
      const first = await pages.next();
      const stages = await stageNames(db, rolloutId);
      async function* lines(): AsyncGenerator<string> {
        yield csvLine(CSV_HEADER);
        if (first.done) return;
        yield first.value.map((t) => csvRow(t, stages)).join("");
        for await (const page of pages) yield page.map((t) => csvRow(t, stages)).join("");
      }
      return (
        reply
          .type("text/csv; charset=utf-8")
          .header("content-disposition", `attachment; filename="rollout-${rolloutId}-tasks.csv"`)
          // The schema documents the body as text; a stream of it is what goes out (typed as the text it is).
          .send(Readable.from(lines()) as unknown as string)
      );
    },
  );
};

export default taskViewRoutes;
