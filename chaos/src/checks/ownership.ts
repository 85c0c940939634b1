import type { CheckResult, LogRow } from "../facts.js";
import { recoveryBoundMs } from "../options.js";
import { iso, push, type CheckContext } from "./context.js";
import { faultFreeMs } from "./stuck.js";

/** The replica whose lease the sweeper took away, if this entry is the sweeper's (its `by` and `owner`). */
function sweptFrom(l: LogRow): string | undefined {
  return l.type === "STATUS" && l.payload.by === "sweeper" ? l.payload.owner : undefined;
}

/** Actors that write as the run's owner (a draining replica releases its own runs). */
const OWNER_ACTORS = new Set(["owner", "drain"]);

interface Takeover {
  at: Date;
  lost: string;
}

function takeovers(c: CheckContext): Map<string, Takeover[]> {
  const out = new Map<string, Takeover[]>();
  for (const l of c.facts.logs) {
    const lost = sweptFrom(l);
    if (lost) push(out, l.runId, { at: l.at, lost });
  }
  return out;
}

/**
 * When the claim (run, epoch) was taken away from its owner, if it was: by the sweeper, or by a newer
 * claim (whoever moved the run in between, the epoch-`epoch` owner may write nothing after that).
 */
function takenOverAt(c: CheckContext, byRun: Map<string, Takeover[]>, runId: string, epoch: number): Date | undefined {
  const claims = c.claimsByRun.get(runId) ?? [];
  const claim = claims.find((x) => x.epoch === epoch);
  if (!claim) return undefined;
  const newer = claims.find((x) => x.epoch > epoch);
  const next = newer?.at.getTime() ?? Infinity;
  const swept = (byRun.get(runId) ?? []).find((t) => t.lost === claim.replica && t.at >= claim.at && t.at.getTime() <= next)?.at;
  return swept ?? newer?.at;
}

/** An entry the owner of the run writes (execution logs and every status it sets), as opposed to sweeper or API. */
function isOwnerWrite(l: LogRow): boolean {
  if (l.type === "EXECUTE" || l.type === "LEDGER_HIT") return true;
  return l.type === "STATUS" && OWNER_ACTORS.has(l.payload.by ?? "");
}

/** A terminal status the owner wrote (for the recovery check: the victim finished first). */
function isOwnerFinish(l: LogRow): boolean {
  return isOwnerWrite(l) && l.type === "STATUS" && ["DONE", "FAILED", "CANCELED"].includes(l.payload.status ?? "");
}

/**
 * 6. Fencing: no write from a replica after its lease was taken over — neither a COMMIT on a target
 * (journal, target clock) nor an owner write in the control database.
 */
export function checkFencing(c: CheckContext): CheckResult {
  const v: string[] = [];
  const byRun = takeovers(c);
  let claimsTaken = 0;
  for (const [runId, claims] of c.claimsByRun) for (const cl of claims) if (takenOverAt(c, byRun, runId, cl.epoch)) claimsTaken++;
  for (const j of c.committed) {
    const t = takenOverAt(c, byRun, j.runId, j.epoch);
    if (!(c.claimsByRun.get(j.runId) ?? []).some((x) => x.epoch === j.epoch))
      v.push(`${j.marker}: committed by run ${j.runId} epoch ${j.epoch}, which no claim logged`);
    if (t && j.committedAt!.getTime() > t.getTime()) {
      v.push(
        `${j.marker}: ${j.replica} committed run ${j.runId} (epoch ${j.epoch}) at ${iso(j.committedAt!)}, ${j.committedAt!.getTime() - t.getTime()} ms after its lease was taken over`,
      );
    }
  }
  for (const l of c.facts.logs) {
    if (!l.replica || !isOwnerWrite(l)) continue;
    const claim = (c.claimsByRun.get(l.runId) ?? []).filter((x) => x.replica === l.replica && x.at <= l.at).pop();
    const t = claim && takenOverAt(c, byRun, l.runId, claim.epoch);
    if (t && l.at.getTime() > t.getTime()) {
      v.push(
        `run ${l.runId}: ${l.replica} wrote ${l.type} ${l.payload.status ?? ""} at ${iso(l.at)} after its lease was taken over at ${iso(t)}`,
      );
    }
  }
  return {
    name: "6. Fencing",
    ok: v.length === 0,
    detail: `${claimsTaken} claims taken over; ${c.committed.length} commits and ${c.facts.logs.length} log entries checked`,
    violations: v,
  };
}

/**
 * 7. Recovery time: from a kill (or a freeze) to each run the victim owned continuing elsewhere — claimed
 * again, or ended by the sweeper — within lease TTL + sweep interval + 2 s.
 */
export function checkRecovery(c: CheckContext): CheckResult {
  const v: string[] = [];
  const bound = recoveryBoundMs(c.o);
  const times: number[] = [];
  let finishedFirst = 0;
  const systemWide = c.harness.faults.filter((f) => f.replica === "*");
  for (const f of c.harness.faults) {
    // A frozen replica that holds the sweep lock stops every replica's recovery (chaos/repro/frozen-sweeper.ts).
    const why = f.heldLocks?.length ? ` (the frozen replica held ${f.heldLocks.join(" and ")})` : "";
    for (const run of f.runs) {
      const after = (c.logsByRun.get(run.id) ?? []).filter((l) => l.type === "STATUS" && l.at.getTime() >= f.at - 1000);
      const ownFinish = after.find((l) => l.replica === f.replica && isOwnerFinish(l) && l.at.getTime() <= f.at + 1000);
      if (ownFinish) {
        finishedFirst++; // finished between the snapshot and the signal
        continue;
      }
      const claimedAgain = (l: LogRow) => l.payload.status === "RUNNING" && Number(l.payload.epoch) > run.epoch;
      const endedBySweeper = (l: LogRow) => l.payload.status !== "AVAILABLE" && sweptFrom(l) === f.replica;
      const next = after.find((l) => claimedAgain(l) || endedBySweeper(l));
      if (!next) {
        v.push(`${f.kind} of ${f.replica} at ${iso(f.at)}: run ${run.id} never continued elsewhere${why}`);
        continue;
      }
      // Time while a fault stopped every replica (the target path cut, a PostgreSQL restart) does not count:
      // the sweeper must keep a run whose target it cannot reach to confirm what became of it (issue 10, rule 2).
      const ms = faultFreeMs(f.at, next.at.getTime(), systemWide, c.harness.healedAt ?? Date.now());
      times.push(ms);
      if (ms > bound) v.push(`${f.kind} of ${f.replica} at ${iso(f.at)}: run ${run.id} continued after ${ms} ms (bound ${bound} ms)${why}`);
    }
  }
  times.sort((a, b) => a - b);
  const q = (p: number) =>
    times.length ? `${(times[Math.min(times.length - 1, Math.floor(p * times.length))]! / 1000).toFixed(1)} s` : "n/a";
  return {
    name: "7. Recovery time",
    ok: v.length === 0,
    detail: `${c.harness.faults.length} faults, ${times.length} runs taken over (${finishedFirst} finished first): median ${q(0.5)}, max ${q(1)}, bound ${(bound / 1000).toFixed(1)} s`,
    violations: v,
  };
}
