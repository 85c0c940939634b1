import { LOCALES, messageKeys, messages } from "@runway/shared/locales";
import { describe, expect, it } from "vitest";
import type { LogEntry, LogEvent } from "@/api/types";
import { logLine, type LogLine } from "./log-event";

let seq = 0;
const ev = (over: Partial<LogEvent>): LogEvent => ({
  from: null,
  to: null,
  by: null,
  user: null,
  replica: null,
  epoch: null,
  reason: null,
  ...over,
});
const entry = (event: LogEvent | null, data: Record<string, unknown> = {}, type = "STATUS", message = "english"): LogEntry => ({
  id: String(++seq),
  at: "2030-01-01T10:00:00.000Z",
  type,
  replicaId: null,
  message,
  event,
  data,
});
const time = (iso: string) => `<${iso}>`;
const line = (e: LogEntry) => logLine(e, time);

describe("log lines from structured events", () => {
  it("a run's life: requested, ready, claimed, failed with the PostgreSQL error in red", () => {
    expect(line(entry(ev({ to: "PENDING", by: "api", user: "alice" })))).toEqual({
      key: "drawer.event.created",
      params: { user: "alice" },
      tone: "default",
    });
    expect(line(entry(ev({ from: "PENDING", to: "AVAILABLE", by: "pending-scheduler" })))).toMatchObject({ key: "drawer.event.promoted" });
    expect(line(entry(ev({ from: "AVAILABLE", to: "RUNNING", by: "running-scheduler", replica: "r2", epoch: 3 })))).toEqual({
      key: "drawer.event.claimed",
      params: { replica: "r2", epoch: 3 },
      tone: "default",
    });
    // Made RUNNING by the statement that made it runnable: the API's create, a live pass's promote.
    expect(line(entry(ev({ to: "RUNNING", by: "api", user: "alice", replica: "r1", epoch: 1 })))).toEqual({
      key: "drawer.event.createdClaimed",
      params: { user: "alice", replica: "r1", epoch: 1 },
      tone: "default",
    });
    expect(line(entry(ev({ from: "PENDING", to: "RUNNING", by: "pending-scheduler", replica: "r3", epoch: 2 })))).toEqual({
      key: "drawer.event.promotedClaimed",
      params: { replica: "r3", epoch: 2 },
      tone: "default",
    });
    const failed = entry(ev({ from: "RUNNING", to: "FAILED", by: "owner", reason: "division by zero" }), {
      result: { error: { message: "division by zero", code: "22012" } },
    });
    expect(line(failed)).toEqual({ key: "drawer.event.failedCode", params: { error: "division by zero", code: "22012" }, tone: "error" });
    // Without the result (failed by the scheduler, or by a sweep): the reason is the error.
    expect(line(entry(ev({ from: "PENDING", to: "FAILED", by: "pending-scheduler", reason: "instance deleted" })))).toEqual({
      key: "drawer.event.failed",
      params: { error: "instance deleted" },
      tone: "error",
    });
  });

  it("done with its rows, canceled by whom, scheduled for when, auto-run", () => {
    expect(line(entry(ev({ from: "RUNNING", to: "DONE", by: "owner" }), { result: { rowsAffected: 4, durationMs: 12.4 } }))).toEqual({
      key: "drawer.event.doneRows",
      params: { rows: 4, ms: 12 },
      tone: "success",
    });
    const note = "the ledger row could not be written (Query read timeout)";
    expect(line(entry(ev({ from: "RUNNING", to: "DONE", by: "owner" }), { result: { rowsAffected: 0, durationMs: 9, note } }))).toEqual({
      key: "drawer.event.doneNote",
      params: { rows: 0, ms: 9, note },
      tone: "warning",
    });
    // The target's ledger had the change: another task's run of the same version, or an earlier attempt.
    const applied = { alreadyApplied: true, rowsAffected: 0 };
    expect(line(entry(ev({ from: "RUNNING", to: "DONE", by: "owner" }), { result: { ...applied, byTask: "12" } }))).toEqual({
      key: "drawer.event.doneAppliedBy",
      params: { task: "12" },
      tone: "success",
    });
    expect(line(entry(ev({ from: "RUNNING", to: "DONE", by: "owner" }), { result: applied }))).toMatchObject({
      key: "drawer.event.doneApplied",
    });
    // The executor's note before it (no event), in the reader's language rather than the server's English.
    expect(line(entry(null, { message: "version 0700 is already applied …", byTask: "12" }, "LEDGER_HIT"))).toEqual({
      key: "drawer.event.ledgerHitBy",
      params: { task: "12" },
      tone: "default",
    });
    expect(line(entry(null, { message: "already applied by attempt 1 …", concurrent: false }, "LEDGER_HIT"))).toMatchObject({
      key: "drawer.event.ledgerHit",
    });
    expect(line(entry(ev({ from: "RUNNING", to: "DONE", by: "owner" }), { result: { created: true } }))).toMatchObject({
      key: "drawer.event.done",
    });
    expect(line(entry(ev({ from: "PENDING", to: "CANCELED", by: "api", user: "bob" })))).toMatchObject({
      key: "drawer.event.canceledBy",
      params: { user: "bob" },
    });
    expect(line(entry(ev({ from: "RUNNING", to: "CANCELED", by: "owner" })))).toMatchObject({ key: "drawer.event.canceled" });
    expect(line(entry(ev({ to: "PENDING", by: "api", user: "ann" }), { runAt: "2030-01-02T00:00:00Z" }))).toEqual({
      key: "drawer.event.scheduled",
      params: { user: "ann", time: "<2030-01-02T00:00:00Z>" },
      tone: "default",
    });
    expect(line(entry(ev({ to: "AVAILABLE", by: "pending-scheduler" })))).toMatchObject({ key: "drawer.event.createdAuto" });
  });

  it("retries, pauses, lost owners and cancel requests", () => {
    expect(
      line(
        entry(ev({ from: "RUNNING", to: "PENDING", by: "owner", reason: "lock timeout" }), {
          autoRetry: { attempt: 1, max: 3, until: "X" },
        }),
      ),
    ).toEqual({ key: "drawer.event.autoRetry", params: { attempt: 1, max: 3, time: "<X>", error: "lock timeout" }, tone: "warning" });
    expect(line(entry(ev({ from: "RUNNING", to: "PENDING", by: "owner" }), { retryAt: "Y" }))).toMatchObject({
      key: "drawer.event.retryUnreachable",
      params: { time: "<Y>" },
    });
    expect(line(entry(ev({ from: "AVAILABLE", to: "PENDING", by: "api" })))).toMatchObject({ key: "drawer.event.paused" });
    expect(line(entry(ev({ from: "AVAILABLE", to: "PENDING", by: "pending-scheduler" })))).toMatchObject({ key: "drawer.event.tripped" });
    expect(line(entry(ev({ from: "RUNNING", to: "AVAILABLE", by: "drain", replica: "r1" })))).toMatchObject({
      key: "drawer.event.released",
    });
    expect(line(entry(ev({ from: "RUNNING", to: "AVAILABLE", by: "sweeper" }), { owner: "r9" }))).toMatchObject({
      key: "drawer.event.swept",
      params: { replica: "r9" },
    });
    expect(line(entry(ev({ by: "api", user: "bob" }), {}, "CANCEL_REQUESTED"))).toMatchObject({
      key: "drawer.event.cancelRequested",
      params: { user: "bob" },
    });
    expect(line(entry(ev({ by: "sweeper", replica: "r1", reason: "timeout" }), {}, "OWNER_LOST"))).toMatchObject({
      key: "drawer.event.ownerLost",
      tone: "warning",
    });
  });

  it("the English message only for entries without an event", () => {
    expect(line(entry(null, { status: "DONE" }, "STATUS", "applied: 1 row(s)"))).toEqual({ text: "applied: 1 row(s)", tone: "default" });
    expect(line(entry(null, {}, "EXECUTE_FAILED", "boom"))).toEqual({ text: "boom", tone: "error" });
  });

  it("every key it produces exists in every locale, with the same placeholders", () => {
    const events: LogEntry[] = [];
    for (const to of ["PENDING", "AVAILABLE", "RUNNING", "DONE", "FAILED", "CANCELED"])
      for (const from of [null, "PENDING", "AVAILABLE", "RUNNING"])
        for (const by of ["api", "pending-scheduler", "owner", "drain", "sweeper"])
          for (const data of [
            {},
            { runAt: "T" },
            { retryAt: "T" },
            { autoRetry: { attempt: 1, max: 2, until: "T" } },
            { result: { rowsAffected: 1, durationMs: 1 } },
          ])
            events.push(entry(ev({ from, to, by, user: "u" }), data));
    events.push(entry(ev({ by: "api", user: "u" }), {}, "CANCEL_REQUESTED"), entry(ev({ by: "sweeper" }), {}, "OWNER_LOST"));
    const keys = new Set(events.map(line).flatMap((l: LogLine) => ("key" in l ? [l.key] : [])));
    expect(keys.size).toBeGreaterThan(15);
    for (const locale of LOCALES) {
      const known = new Set(messageKeys(messages[locale]));
      expect(
        [...keys].filter((k) => !known.has(k)),
        locale,
      ).toEqual([]);
    }
  });
});
