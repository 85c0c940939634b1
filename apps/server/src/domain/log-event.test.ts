import { describe, expect, it } from "vitest";
import { logEventOf } from "./log-event.js";

describe("logEventOf", () => {
  it("reads a transition's structured STATUS entry", () => {
    const payload = {
      status: "RUNNING",
      from: "AVAILABLE",
      to: "RUNNING",
      by: "running-scheduler",
      replica: "r2",
      epoch: 3,
      reason: "claimed by r2",
    };
    expect(logEventOf("STATUS", payload)).toEqual({
      from: "AVAILABLE",
      to: "RUNNING",
      by: "running-scheduler",
      user: null,
      replica: "r2",
      epoch: 3,
      reason: "claimed by r2",
    });
  });

  it("a created run has no from; the API's user comes along", () => {
    expect(
      logEventOf("STATUS", { from: null, to: "PENDING", by: "api", user: "alice", replica: null, epoch: 0, reason: "created by alice" }),
    ).toMatchObject({ from: null, to: "PENDING", by: "api", user: "alice" });
  });

  it("a cancel request and a lost owner", () => {
    expect(logEventOf("CANCEL_REQUESTED", { message: "cancel requested by bob", by: "api", user: "bob" })).toMatchObject({
      by: "api",
      user: "bob",
      to: null,
    });
    expect(logEventOf("OWNER_LOST", { message: "…", by: "sweeper", owner: "r1", epoch: 2, error: "timeout" })).toMatchObject({
      by: "sweeper",
      replica: "r1",
      epoch: 2,
      reason: "timeout",
    });
  });

  it("null for entries without a structured payload (older entries, executor notes)", () => {
    expect(logEventOf("STATUS", { status: "DONE", message: "applied: 1 row(s)" })).toBeNull();
    expect(logEventOf("CANCEL_REQUESTED", { message: "cancel requested by bob" })).toBeNull();
    expect(logEventOf("EXECUTE", { message: "database exists" })).toBeNull();
  });
});
