import fp from "fastify-plugin";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { StoreError } from "../../store/errors.js";
import { isControlUnavailable } from "../../db/unavailable.js";
import { ApiError, ErrorCode } from "./api-error.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The error code sent, for the audit log's outcome. */
    errorCode?: ErrorCode;
  }
}

const STORE_STATUS: Record<StoreError["code"], number> = {
  NOT_FOUND: 404,
  CONFLICT: 409,
  FAILED_PRECONDITION: 409,
  INVALID_ARGUMENT: 400,
};

const NO_NUL = "^[^\\u0000]*$";

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** "body/stages/0/tasks/2/type must be equal to one of the allowed values (DATABASE_CREATE, …)". */
function describeValidation(context: string, errors: AjvError[]): { message: string; details: unknown } {
  const items = errors.map((e) => {
    const path = `${context}${e.instancePath}`;
    if (e.keyword === "additionalProperties")
      return { path, message: `${path} has an unknown field "${String(e.params.additionalProperty)}"` };
    if (e.keyword === "enum") return { path, message: `${path} must be one of ${(e.params.allowedValues as unknown[]).join(", ")}` };
    if (e.keyword === "pattern" && e.params.pattern === NO_NUL) return { path, message: `${path} must not contain NUL characters` };
    return { path, message: `${path} ${e.message ?? "is invalid"}` };
  });
  return { message: items.map((i) => i.message).join("; "), details: { errors: items } };
}

/** PostgreSQL SQLSTATE classes that mean the input was bad, should any slip past the schemas. */
function pgClientError(err: unknown): ApiError | undefined {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== "string" || !/^[0-9A-Z]{5}$/.test(code)) return undefined;
  const message = (err as Error).message;
  if (code.startsWith("22")) return new ApiError(400, ErrorCode.INVALID_ARGUMENT, `invalid value: ${message}`);
  if (code === "23503") return new ApiError(400, ErrorCode.INVALID_ARGUMENT, `refers to something that does not exist: ${message}`);
  if (code.startsWith("23")) return new ApiError(409, ErrorCode.CONFLICT, `conflicts with existing data: ${message}`);
  return undefined;
}

/**
 * The control database is unreachable or too slow (the bounds of store/db.ts fired): 503, so clients and
 * load balancers retry, instead of a 500 that reads as a bug. Class 08 is connection exceptions, 57P0x a
 * server shutting down or restarting, 57014 here the session's statement_timeout.
 */
function controlUnavailable(err: unknown): ApiError | undefined {
  if (!isControlUnavailable(err)) return undefined;
  return new ApiError(503, ErrorCode.UNAVAILABLE, "the control database is unavailable or did not answer in time; retry later");
}

/** Maps any error to the API's `{error: {code, message, details?}}`; a client's mistake is never a 5xx. */
export function toApiError(err: unknown, request: FastifyRequest): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof StoreError) return new ApiError(STORE_STATUS[err.code], err.code, err.message, err.details);
  const fe = err as Partial<FastifyError> & { validation?: AjvError[] };
  if (fe.validation) {
    const { message, details } = describeValidation(fe.validationContext ?? "request", fe.validation);
    return new ApiError(400, ErrorCode.INVALID_ARGUMENT, message, details);
  }
  const status = fe.statusCode;
  if (status === 413)
    return new ApiError(
      413,
      ErrorCode.PAYLOAD_TOO_LARGE,
      `request body is larger than ${request.routeOptions.bodyLimit ?? "the limit of"} bytes`,
    );
  if (status === 429) return new ApiError(429, ErrorCode.RATE_LIMITED, fe.message ?? "too many requests");
  if (status === 415)
    return new ApiError(415, ErrorCode.INVALID_ARGUMENT, `${fe.message ?? "unsupported content type"}; send application/json`);
  if (status === 404) return new ApiError(404, ErrorCode.NOT_FOUND, fe.message ?? "not found");
  if (status === 401) return new ApiError(401, ErrorCode.UNAUTHENTICATED, fe.message ?? "authentication required");
  if (status === 403) return new ApiError(403, ErrorCode.PERMISSION_DENIED, fe.message ?? "forbidden");
  if (status !== undefined && status >= 400 && status < 500) {
    // Malformed JSON, empty JSON body, bad content-length, 406 from SSE negotiation, …
    const where = fe.code?.startsWith("FST_ERR_CTP") ? "body: " : "";
    return new ApiError(status === 406 ? 406 : 400, ErrorCode.INVALID_ARGUMENT, `${where}${fe.message ?? "bad request"}`);
  }
  const pg = pgClientError(err);
  if (pg) return pg;
  const down = controlUnavailable(err);
  if (down) return down;
  return new ApiError(500, ErrorCode.INTERNAL, "internal error; the server log has the details");
}

/** Sends any error as the envelope; also used for errors Fastify raises before routing (bad URLs). */
export function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply) {
  const api = toApiError(err, request);
  if (api.statusCode >= 500) request.log.error({ err }, "request failed");
  else if (!(err instanceof ApiError) && !(err instanceof StoreError) && (err as { code?: string }).code?.length === 5)
    request.log.warn({ err }, "a database error escaped validation");
  request.errorCode = api.code;
  const body = { error: { code: api.code, message: api.message, ...(api.details !== undefined ? { details: api.details } : {}) } };
  return reply.code(api.statusCode).send(body);
}

export default fp(
  async function errors(app: FastifyInstance) {
    app.setErrorHandler(sendError);
  },
  { name: "runway-errors" },
);
