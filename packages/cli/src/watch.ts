import cliProgress from "cli-progress";
import { createParser } from "eventsource-parser";
import type { Rollout, StatusCounts } from "@runway/shared/schemas";
import type { Client } from "./client.js";
import type { Output } from "./output.js";

/** Exit codes a CI job gates on. */
export const Exit = { OK: 0, FAILED: 1, USAGE: 2, TIMEOUT: 3, ERROR: 4 } as const;

const ACTIVE = ["PENDING", "AVAILABLE", "RUNNING"] as const;
const total = (c: StatusCounts) => Object.values(c).reduce((n, x) => n + x, 0);
const finished = (c: StatusCounts) => c.DONE + c.SKIPPED;

/**
 * Pure: whether a rollout is over for a CI job. Succeeded when every task is DONE or SKIPPED; failed
 * when a task FAILED or was CANCELED and nothing is left running or waiting to run (a task not started
 * yet may wait for a gate or an approval, so it alone keeps the watch going).
 */
export function verdict(c: StatusCounts): "succeeded" | "failed" | null {
  if (total(c) > 0 && finished(c) === total(c)) return "succeeded";
  const active = ACTIVE.reduce((n, s) => n + c[s], 0);
  if (c.FAILED + c.CANCELED > 0 && active === 0) return "failed";
  return null;
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
          { rolloutId, statusCounts: counts, stages: r.stages.map((s) => ({ environment: s.environment, statusCounts: s.statusCounts })) },
          "",
        );
      } else {
        const l = line(r);
        if (l !== lastLine) out.info(`rollout ${rolloutId}: ${(lastLine = l)}`);
      }
      const v = verdict(counts);
      if (v) {
        bars?.stop();
        out.info(
          v === "succeeded"
            ? `rollout ${rolloutId}: every task DONE or SKIPPED`
            : `rollout ${rolloutId}: ${counts.FAILED} failed, ${counts.CANCELED} canceled`,
        );
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
