import cliProgress from "cli-progress";
import { createParser } from "eventsource-parser";
import type { Rollout, RolloutBlockers, StatusCounts } from "@runway/shared/schemas";
import type { Client } from "./client.js";
import { failureLines, failuresJson, readFailures } from "./failures.js";
import type { Output } from "./output.js";

/** Exit codes a CI job gates on. */
export const Exit = { OK: 0, FAILED: 1, USAGE: 2, TIMEOUT: 3, ERROR: 4 } as const;

const ACTIVE = ["PENDING", "AVAILABLE", "RUNNING"] as const;
const total = (c: StatusCounts) => Object.values(c).reduce((n, x) => n + x, 0);
const finished = (c: StatusCounts) => c.DONE + c.SKIPPED;

/**
 * Pure: whether a rollout is over for a CI job. Succeeded when every task is DONE or SKIPPED; failed
 * when a task FAILED or was CANCELED and nothing is left running or waiting to run (a task not started
 * yet may wait for a gate or an approval, so it alone keeps the watch going) — or when every task still
 * waiting waits behind a FAILED or CANCELED task (`blockers`, when read): those wait for someone to retry or
 * skip it, which no watch outlasts.
 */
export function verdict(c: StatusCounts, blockers?: RolloutBlockers): "succeeded" | "failed" | null {
  if (total(c) > 0 && finished(c) === total(c)) return "succeeded";
  const active = ACTIVE.reduce((n, s) => n + c[s], 0);
  if (c.FAILED + c.CANCELED > 0 && active === 0) return "failed";
  if (blockers && idle(c) && stuckBehindFailures(blockers) >= c.PENDING) return "failed";
  return null;
}

/** Nothing runs or is about to: the waiting tasks are all there is, and what they wait for is worth saying. */
const idle = (c: StatusCounts) => c.PENDING > 0 && c.RUNNING + c.AVAILABLE === 0;
const stuckBehindFailures = (b: RolloutBlockers) => b.stages.reduce((n, s) => n + s.blocked, 0);

/**
 * Pure: what the waiting tasks wait for, at the end of their chains: each task holding them (perhaps in another
 * rollout), its status and, if it waits itself, why (a cause's stable code). Tasks held by no task wait for a gate
 * of their own (a time, an approval, a pause): said as a count.
 */
export function waitingLine(c: StatusCounts, b: RolloutBlockers, rolloutId: string): string {
  const roots = b.roots.map(
    (r) =>
      `task #${r.taskId}${r.rolloutId !== rolloutId ? ` (rollout ${r.rolloutId})` : ""} ${r.status}` +
      `${r.waitingCause ? ` ${r.waitingCause.type}` : ""} holds ${r.held}`,
  );
  const own = c.PENDING - b.held;
  if (own > 0) roots.push(`${own} on a gate of their own (time, stage, approval or pause)`);
  return `${c.PENDING} waiting: ${roots.join("; ")}`;
}

const line = (r: Rollout) =>
  r.stages
    .map(
      (s) =>
        `${s.environment} ${finished(s.statusCounts)}/${total(s.statusCounts)}` +
        (s.statusCounts.FAILED ? ` (${s.statusCounts.FAILED} failed)` : ""),
    )
    .join("  ");

/**
 * `runway rollout watch`: follows the rollout on the SSE stream (refetching it on every change event,
 * and every `pollMs` as a backstop) and draws a progress bar per stage; plain lines when stderr is not a
 * terminal (CI logs), JSON lines with --json. The stream reconnects after a drop.
 */
export async function watchRollout(
  client: Client,
  rolloutId: string,
  o: { timeoutS?: number; pollMs?: number },
  out: Output,
): Promise<number> {
  const deadline = o.timeoutS ? Date.now() + o.timeoutS * 1000 : Infinity;
  const tty = !out.json && process.stderr.isTTY === true;
  const bars = tty
    ? new cliProgress.MultiBar(
        { format: " {stage} [{bar}] {value}/{total} {detail}", hideCursor: true, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : null;
  const byStage = new Map<string, cliProgress.SingleBar>();
  const stop = new AbortController();
  let wake: () => void = () => undefined;
  let lastLine = "";
  let lastWaiting = "";

  const stream = async () => {
    while (!stop.signal.aborted) {
      try {
        const res = await fetch(`${client.base}/events?rolloutId=${rolloutId}`, {
          headers: client.headers({ accept: "text/event-stream" }),
          signal: stop.signal,
        });
        if (!res.ok || !res.body) throw new Error(`events: HTTP ${res.status}`);
        const parser = createParser({ onEvent: () => wake() });
        const decoder = new TextDecoder();
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
      } catch {
        if (stop.signal.aborted) return;
      }
      // Dropped: the poll backstop covers the gap; reconnect after a short bounded pause.
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  void stream();

  try {
    for (;;) {
      const r = await client.get<Rollout>(`/rollouts/${rolloutId}`);
      const counts = r.statusCounts;
      // Only while nothing runs: then the waiting tasks are all there is, and the summary is one query.
      const blockers = idle(counts) ? await client.get<RolloutBlockers>(`/rollouts/${rolloutId}/blockers`) : undefined;
      const waiting = blockers ? waitingLine(counts, blockers, rolloutId) : "";
      if (bars) {
        for (const s of r.stages) {
          const detail = s.statusCounts.FAILED
            ? `${s.statusCounts.FAILED} failed`
            : s.statusCounts.RUNNING
              ? `${s.statusCounts.RUNNING} running`
              : "";
          let bar = byStage.get(s.id);
          if (!bar) byStage.set(s.id, (bar = bars.create(total(s.statusCounts), 0, { stage: s.environment.padEnd(12), detail })));
          bar.setTotal(total(s.statusCounts));
          bar.update(finished(s.statusCounts), { detail });
        }
      } else if (out.json) {
        out.result(
          {
            rolloutId,
            statusCounts: counts,
            stages: r.stages.map((s) => ({ environment: s.environment, statusCounts: s.statusCounts })),
            ...(blockers ? { waiting: { heldByTasks: blockers.held, roots: blockers.roots } } : {}),
          },
          "",
        );
      } else {
        const l = line(r);
        if (l !== lastLine) out.info(`rollout ${rolloutId}: ${(lastLine = l)}`);
      }
      if (!out.json && waiting && waiting !== lastWaiting) {
        // Above the bars on a terminal (they redraw below it), a line of its own in a CI log.
        if (bars) bars.log(`rollout ${rolloutId}: ${waiting}\n`);
        else out.info(`rollout ${rolloutId}: ${waiting}`);
      }
      lastWaiting = waiting;
      const v = verdict(counts, blockers);
      if (v) {
        bars?.stop();
        const behind =
          blockers && counts.PENDING > 0 ? `; ${counts.PENDING} waiting behind a FAILED or CANCELED task (retry or skip it to go on)` : "";
        out.info(
          v === "succeeded"
            ? `rollout ${rolloutId}: every task DONE or SKIPPED`
            : `rollout ${rolloutId}: ${counts.FAILED} failed, ${counts.CANCELED} canceled${behind}`,
        );
        // Which databases failed and why, in the CI log itself; with --json, on the last line too.
        const failures = v === "failed" && counts.FAILED > 0 ? await readFailures(client, rolloutId) : null;
        if (failures) for (const l of failureLines(failures, counts.FAILED, `${client.url}/rollouts/${rolloutId}`)) out.info(l);
        if (out.json)
          out.result({ rolloutId, verdict: v, statusCounts: counts, ...(failures ? { failures: failuresJson(failures) } : {}) }, "");
        return v === "succeeded" ? Exit.OK : Exit.FAILED;
      }
      if (Date.now() > deadline) {
        bars?.stop();
        out.info(`rollout ${rolloutId}: not finished after ${o.timeoutS} s`);
        return Exit.TIMEOUT;
      }
      // Until the next change event, the backstop poll, or the deadline.
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(o.pollMs ?? 5000, Math.max(0, deadline - Date.now())));
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  } finally {
    stop.abort();
    bars?.stop();
  }
}
