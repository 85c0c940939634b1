import type { GatingCandidate } from "../../src/domain/gating.js";

/**
 * A maker of gating candidates for decide()'s unit tests: each call is a new run (ids and creation times in
 * call order, a second before `now`), sequential, unversioned, never evaluated, on its own database unless
 * `defaults` or the call say otherwise.
 */
export function candidateMaker(now: Date, defaults: Partial<GatingCandidate> = {}): (p?: Partial<GatingCandidate>) => GatingCandidate {
  let seq = 0;
  return (p = {}) => {
    seq++;
    return {
      runId: String(seq),
      taskId: `t${seq}`,
      rolloutId: "r1",
      dbKey: `i/db${seq}`,
      sequential: true,
      runAt: null,
      createdAt: new Date(now.getTime() - 1000 + seq),
      limit: 0,
      orphanReason: null,
      versionKey: null,
      versionBlocker: null,
      cause: null,
      targetRetry: null,
      ahead: false,
      stageId: "s1",
      ...defaults,
      ...p,
    };
  };
}
