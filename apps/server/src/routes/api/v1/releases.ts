import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import multipart from "@fastify/multipart";
import { Type } from "typebox";
import {
  errorResponses,
  MAX_RELEASE_BYTES,
  MAX_RELEASE_FILES,
  ProjectParams,
  Release,
  ReleaseCreate,
  ReleaseList,
  ReleaseListQuery,
  ReleaseParams,
  ReleasePlan,
  ReleasePreviewRequest,
  ReleaseRolloutCreate,
  ReleaseRolloutCreated,
} from "@runway/shared/schemas";
import type { FastifyRequest } from "fastify";
import { parseReleaseFiles, releaseFileRefusals, releaseHash, ReleaseFileError, type FileInput } from "../../../domain/release-files.js";
import type { TargetReader } from "../../../executors/target-reader.js";
import { invalid, notFound } from "../../../plugins/app/api-error.js";
import { refusalSummary } from "../../../domain/refusals.js";
import { planRelease, rolloutFromPlan } from "../../../releases/plan.js";
import { decodeText, filesFromZip, looksLikeZip } from "../../../releases/upload.js";
import { decodePageToken, nextToken } from "../../../schemas/page-token.js";
import { releaseCreate, releaseGet, releaseList, type Release as StoredRelease } from "../../../store/releases.js";
import { rolloutGet } from "../../../store/rollout-reads.js";
import { rolloutCreate } from "../../../store/rollouts.js";

const tags = ["releases"];
/** A release body: every file's text as JSON (escaping can double it). */
const BODY_LIMIT = 2 * MAX_RELEASE_BYTES + 1024 * 1024;
/** A rollout of 100,000 tasks is fine; its request is small (stages of groups). */

/** 400 RELEASE_FILE: the file, the problem's stable code (ReleaseFileProblem) and what it clashes with. */
const fileRefused = (e: ReleaseFileError) => invalid(e.message, { reason: "RELEASE_FILE", file: e.file, problem: e.problem, ...e.extra });
const out = (r: StoredRelease, extra: object = {}) => ({ ...r, createdAt: r.createdAt.toISOString(), ...extra });
const UploadQuery = Type.Object(
  { title: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: "^[^\\u0000]*$" })) },
  { additionalProperties: false },
);

/** Releases (uploaded SQL files), their preview against each target's ledger, and rollouts from them. */
const releaseRoutes: FastifyPluginAsyncTypebox<{ reader: TargetReader }> = async (app, { reader }) => {
  const { db, clock } = app.ctx;
  const maxAgeMs = app.ctx.config.ledgerSnapshotMaxAgeMs;
  await app.register(multipart, {
    limits: { fileSize: MAX_RELEASE_BYTES, files: MAX_RELEASE_FILES, fields: 10, parts: MAX_RELEASE_FILES + 10 },
  });
  app.addContentTypeParser(
    ["application/zip", "application/octet-stream"],
    { parseAs: "buffer", bodyLimit: MAX_RELEASE_BYTES },
    (_req, body, done) => done(null, body),
  );

  const store = async (req: FastifyRequest, projectId: string, title: string, inputs: FileInput[], expectHash?: string) => {
    let parsed: ReturnType<typeof parseReleaseFiles>;
    try {
      parsed = parseReleaseFiles(inputs);
    } catch (e) {
      if (e instanceof ReleaseFileError) throw fileRefused(e);
      throw e;
    }
    if (parsed.files.length === 0)
      throw invalid(
        parsed.ignored.length
          ? `the upload holds no change: its ${parsed.ignored.length} file(s) were left out (not .sql, or Flyway's undo, baseline and callback scripts)`
          : "the upload holds no .sql file",
        { reason: "RELEASE_EMPTY", ignored: parsed.ignored },
      );
    const refusals = await releaseFileRefusals(parsed.files);
    if (refusals.length > 0) {
      const { message, details } = refusalSummary(refusals, "files");
      throw invalid(message, { reason: "RELEASE_STATEMENT", file: refusals[0]!.file, ...details });
    }
    const contentHash = releaseHash(parsed.files);
    if (expectHash && expectHash !== contentHash)
      throw invalid(`body/contentHash is ${expectHash}, the files hash to ${contentHash}`, {
        reason: "CONTENT_HASH_MISMATCH",
        contentHash,
      });
    req.audit.detail = { title, files: parsed.files.length, contentHash, ignored: parsed.ignored.length };
    const { release, created } = await releaseCreate(
      db,
      { projectId, title, createdBy: req.user!.username, contentHash, files: parsed.files },
      clock.now(),
    );
    req.audit.target = `release/${release.id}`;
    return { release: out(release, { ignored: parsed.ignored }), created };
  };

  app.get(
    "/projects/:projectId/releases",
    {
      config: { auth: "viewer" },
      schema: {
        tags,
        summary: "A project's releases, newest first",
        params: ProjectParams,
        querystring: ReleaseListQuery,
        response: { 200: ReleaseList, ...errorResponses },
      },
    },
    async (req) => {
      const { pageSize = 50, pageToken } = req.query;
      const r = await releaseList(db, {
        projectId: req.params.projectId,
        limit: pageSize,
        beforeId: decodePageToken(pageToken) ?? undefined,
      });
      return { releases: r.releases.map((x) => out(x)), nextPageToken: nextToken(r.releases, r.more) };
    },
  );

  app.post(
    "/projects/:projectId/releases",
    {
      bodyLimit: BODY_LIMIT,
      config: { auth: "releaser", audit: "release.create" },
      schema: {
        tags,
        summary: "Create a release from files in a JSON body",
        description:
          "V<version>__<description>.sql files are versioned (V1_2 is version 1.2); R__<description>.sql and other .sql files are unversioned, " +
          "applied once per distinct content; other files are left out (`ignored`). `-- runway:type=data` in a file's opening comments makes it a data change. " +
          "The same files again are the same release (200 instead of 201). Releases never change. A file PostgreSQL's parser or Runway's " +
          "statement rules refuse (a syntax error, transaction control, a statement that must run alone beside others, comments alone) " +
          "refuses the release: 400 with details.reason RELEASE_STATEMENT and details.files (file, problem, position, message).",
        params: ProjectParams,
        body: ReleaseCreate,
        response: { 200: Release, 201: Release, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { title, files, contentHash } = req.body;
      const r = await store(req, req.params.projectId, title, files as FileInput[], contentHash);
      return reply.code(r.created ? 201 : 200).send(r.release);
    },
  );

  app.post(
    "/projects/:projectId/releases/upload",
    {
      bodyLimit: BODY_LIMIT,
      config: { auth: "releaser", audit: "release.create" },
      schema: {
        tags,
        summary: "Create a release from a zip (application/zip body) or a folder (multipart/form-data: files, optional title field)",
        description: "A multipart part that is a zip is unpacked. Folders are flattened: only file names count.",
        params: ProjectParams,
        querystring: UploadQuery,
        response: { 200: Release, 201: Release, ...errorResponses },
      },
    },
    async (req, reply) => {
      let title = req.query.title;
      const inputs: FileInput[] = [];
      if (req.isMultipart()) {
        for await (const part of req.parts()) {
          if (part.type === "field") {
            if (part.fieldname === "title" && typeof part.value === "string" && part.value !== "") title = part.value.slice(0, 200);
            continue;
          }
          const bytes = await part.toBuffer();
          if (part.file.truncated) throw invalid(`${part.filename} is larger than ${MAX_RELEASE_BYTES} bytes`);
          const name = part.filename || part.fieldname;
          try {
            if (looksLikeZip(name, bytes)) inputs.push(...(await filesFromZip(bytes)));
            else inputs.push({ name, content: decodeText(name, bytes) });
          } catch (e) {
            if (e instanceof ReleaseFileError) throw fileRefused(e);
            throw e;
          }
        }
      } else if (Buffer.isBuffer(req.body)) {
        try {
          inputs.push(...(await filesFromZip(req.body)));
        } catch (e) {
          if (e instanceof ReleaseFileError) throw fileRefused(e);
          throw e;
        }
      } else throw invalid("send multipart/form-data files or an application/zip body");
      const r = await store(req, req.params.projectId, title ?? `Upload ${clock.now().toISOString()}`, inputs);
      return reply.code(r.created ? 201 : 200).send(r.release);
    },
  );

  const releaseOf = async (projectId: string, releaseId: string) => {
    const release = await releaseGet(db, releaseId);
    if (!release || release.projectId !== projectId) throw notFound(`release ${releaseId} not found in project "${projectId}"`);
    return release;
  };
  const Params = Type.Object({ ...ProjectParams.properties, ...ReleaseParams.properties });

  app.get(
    "/projects/:projectId/releases/:releaseId",
    {
      config: { auth: "viewer" },
      schema: {
        tags,
        summary: "A release with its files (and their SQL) in apply order",
        params: Params,
        response: { 200: Release, ...errorResponses },
      },
    },
    async (req) => {
      const r = await releaseOf(req.params.projectId, req.params.releaseId);
      return out(r, { files: r.files });
    },
  );

  app.post(
    "/projects/:projectId/releases/:releaseId/preview",
    {
      config: { auth: "releaser", audit: "release.preview" },
      schema: {
        tags,
        summary: "What a rollout of the release onto these stages would do, per stage and database",
        description:
          "Groups resolve against a fresh listing of each instance. Each target's runway_ledger comes from its snapshot in the control " +
          "database when there is one (its time in `readAt`, the oldest in `ledgers.oldestReadAt`), else it is read on the target " +
          "(in parallel, bounded) and stored as the new snapshot. " +
          "A version applied there with other content is listed under `changed` and never planned.",
        params: Params,
        body: ReleasePreviewRequest,
        response: { 200: ReleasePlan, ...errorResponses },
      },
    },
    async (req) => {
      const release = await releaseOf(req.params.projectId, req.params.releaseId);
      req.audit.target = `release/${release.id}`;
      const plan = await planRelease(
        { db, reader, clock },
        { projectId: req.params.projectId, release, stages: req.body.stages, freshness: { use: "any", maxAgeMs } },
      );
      req.audit.detail = plan.totals;
      return plan;
    },
  );

  app.post(
    "/projects/:projectId/releases/:releaseId/rollouts",
    {
      config: { auth: "releaser", audit: "rollout.create" },
      schema: {
        tags,
        summary: "Create a rollout from the release: the pending files of every target, stage by stage",
        description:
          "Plans as the preview does, except that snapshots older than RUNWAY_LEDGER_SNAPSHOT_MAX_AGE_MS are read again on their targets, " +
          "then creates the rollout through the same path as POST /projects/{projectId}/rollouts (all NOT_STARTED). Its tasks are applied " +
          "once: a run finds its version (or an unversioned file's content) in the target's ledger under another task and is not applied again. " +
          "409-free refusals: FAILED_PRECONDITION with details.reason NOTHING_PENDING, STAGE_EMPTY (a stage whose targets name no database), LEDGER_UNREADABLE or RELEASE_CORRUPT.",
        params: Params,
        body: ReleaseRolloutCreate,
        response: { 201: ReleaseRolloutCreated, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { projectId } = req.params;
      const release = await releaseOf(projectId, req.params.releaseId);
      const title = req.body.title ?? release.title;
      const plan = await planRelease(
        { db, reader, clock },
        { projectId, release, stages: req.body.stages, freshness: { use: "fresh", maxAgeMs } },
      );
      req.audit.detail = { title, release: release.id, ...plan.totals };
      const id = await rolloutCreate(db, rolloutFromPlan(release, plan, { projectId, title, createdBy: req.user!.username }), clock.now());
      req.audit.target = `rollout/${id}`;
      return reply.code(201).send({ rollout: (await rolloutGet(db, id))!, totals: plan.totals });
    },
  );
};

export default releaseRoutes;
