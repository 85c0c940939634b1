import { TargetRefusedError } from "./target-guard.js";
import type pg from "pg";
import { classify, errorResult, TargetFault } from "./target-errors.js";
import { boundedQuery, destroySocket, type TargetPools } from "./target-pools.js";
import type { ExecOutcome } from "./types.js";

/**
 * How far an execution got, which decides what a lost session may have left behind: before "sent" the
 * statement never reached the target; at "commit" it may have committed. `abandoned`: we closed our end
 * of the session without the server confirming the statement ended (a cancel not delivered in time).
 */
export interface Progress {
  phase: "connect" | "prepare" | "sent" | "commit";
  abandoned: boolean;
  /** The last query on the session ended with its reset (target-pools.ts SESSION_RESET_SQL): it goes back to its pool as it is. */
  reset?: boolean;
}

/** Connects, giving up at once on an abort (a connection that opens later is disposed of). */
export async function connectUnlessAborted<C>(open: () => Promise<C>, dispose: (c: C) => void, signal: AbortSignal): Promise<C> {
  if (signal.aborted) throw new TargetFault("CANCELED_BEFORE_START", "canceled before start");
  const opening = open();
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new TargetFault("CANCELED_BEFORE_START", "canceled while connecting"));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([opening, aborted]);
  } catch (e) {
    if (signal.aborted) opening.then(dispose, () => undefined);
    throw e;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * On abort, cancels the running statement from a second connection (bounded by its own connect
 * timeout). If the statement has not ended within `timeoutMs` — the target is silent, or the cancel did
 * not take — our end of the session is closed so the execution can end; the session may live on at the
 * target, and the outcome (RETRY) says so. Returns the detach function.
 */
export function cancelOnAbort(
  pools: TargetPools,
  url: string,
  client: pg.ClientBase,
  signal: AbortSignal,
  p: Progress,
  timeoutMs: number,
): () => void {
  const pid = (client as unknown as { processID?: number }).processID;
  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    timer = setTimeout(() => {
      p.abandoned = true;
      destroySocket(client);
    }, timeoutMs);
    if (!pid) return;
    void pools
      .connectOnce(url, "runway cancel", { connectTimeoutMs: timeoutMs })
      .then((c) => boundedQuery(c, "SELECT pg_cancel_backend($1)", timeoutMs, [pid]).finally(() => pools.closeOnce(c)))
      .catch(() => undefined);
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  return () => {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  };
}

/**
 * The outcome of an execution that threw. CANCELED only when the server confirmed the end (or nothing
 * was sent); FAILED only for the server's error about the statement; everything else is RETRY.
 */
export function failureOutcome(e: unknown, signal: AbortSignal, p: Progress, cancelTimeoutMs: number): ExecOutcome {
  const notStarted = p.phase === "connect" || p.phase === "prepare";
  const flag = notStarted ? { notStarted: true } : {};
  if (p.abandoned) {
    const err = new TargetFault(
      "CANCEL_UNDELIVERED",
      `the statement did not end within ${cancelTimeoutMs} ms of the abort; our end of its session was closed (${(e as Error).message})`,
    );
    return { status: "RETRY", result: errorResult(err), message: `target session lost before commit: ${err.message}`, ...flag };
  }
  // The target guard refused the connection (it reaches the control plane): no retry can change that.
  if (e instanceof TargetRefusedError) return { status: "FAILED", result: errorResult(e), message: e.message, notStarted: true };
  const code = e instanceof TargetFault ? e.code : undefined;
  // Ended cleanly by the server, or by us before sending anything: nothing of the run is left there.
  const clean = code === "LEASE_LOST" || code === "CANCELED_BEFORE_START" || classify(e, p.phase === "connect") === "statement";
  if (signal.aborted && (clean || notStarted)) {
    // What the canceled statement left on the target, if it says (executors/reconcile.ts sayWhatTheBuildLeft).
    const left = (e as { leftover?: unknown }).leftover;
    const message = `aborted: ${String(signal.reason ?? "canceled")}${typeof left === "string" ? `; ${left}` : ""}`;
    return { status: "CANCELED", result: errorResult(e), message, ...flag };
  }
  if (clean && !code) return { status: "FAILED", result: errorResult(e), message: (e as Error).message, ...flag };
  const why = code === "LEASE_LOST" ? "lease lost" : notStarted ? "target unreachable" : "target session lost before commit";
  return { status: "RETRY", result: errorResult(e), message: `${why}: ${(e as Error).message}`, ...flag };
}
