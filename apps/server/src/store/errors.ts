/** A domain error the API maps to its stable error codes. Thrown by the store; never a client's 500. */
export type StoreErrorCode = "NOT_FOUND" | "CONFLICT" | "FAILED_PRECONDITION" | "INVALID_ARGUMENT";

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "StoreError";
  }
}
