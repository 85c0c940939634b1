/** The API's stable error codes and their HTTP statuses (issue 3). */
export const ErrorCode = {
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  UNAUTHENTICATED: "UNAUTHENTICATED",
  PERMISSION_DENIED: "PERMISSION_DENIED",
  NOT_FOUND: "NOT_FOUND",
  FAILED_PRECONDITION: "FAILED_PRECONDITION",
  CONFLICT: "CONFLICT",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  RATE_LIMITED: "RATE_LIMITED",
  /** 422: an instance URL that reaches the control plane (details.reason: executors/target-guard.ts). */
  TARGET_REFUSED: "TARGET_REFUSED",
  INTERNAL: "INTERNAL",
  /** The control database cannot be reached or did not answer in time: retry later (503). */
  UNAVAILABLE: "UNAVAILABLE",
  /** 409: the session view of a run that is not RUNNING (details.status). */
  RUN_NOT_RUNNING: "RUN_NOT_RUNNING",
  /** 502: a run's target could not be read (details.error). */
  TARGET_UNREACHABLE: "TARGET_UNREACHABLE",
  /** 409: the project's check policy refuses to run tasks (details.tasks: each task's failing checks; issue 15). */
  CHECKS_FAILED: "CHECKS_FAILED",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error a route or hook raises on purpose; the error handler sends it as `{error: {code, message, details}}`. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const notFound = (message: string) => new ApiError(404, ErrorCode.NOT_FOUND, message);
export const invalid = (message: string, details?: unknown) => new ApiError(400, ErrorCode.INVALID_ARGUMENT, message, details);
