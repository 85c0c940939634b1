import { describe, expect, it } from "vitest";
import { finishLinger } from "./finish-linger.js";
import type { Execution } from "./running-types.js";

const exec = (x: Partial<Execution>): Execution => ({ ...x }) as Execution;
const running = exec({ started: true });
const ahead = exec({ started: false });

describe("finishLinger", () => {
  it("lingers while runs claimed ahead wait for a slot and others still execute", () => {
    expect(finishLinger([running, ahead, exec({ started: true, finishing: true })], { ms: 4, enough: 30 })).toEqual({ ms: 4, enough: 30 });
  });

  it("writes at once when no run waits for a slot: the executors would go idle for the wait", () => {
    expect(finishLinger([running, running, exec({ started: true, finishing: true })], { ms: 4, enough: 30 })).toBeNull();
  });

  it("writes at once when nothing executes that could join the batch", () => {
    expect(finishLinger([ahead, exec({ started: true, finishing: true })], { ms: 4, enough: 30 })).toBeNull();
  });

  it("does not count aborted executions, and 0 ms turns it off", () => {
    expect(finishLinger([running, exec({ started: false, abortReason: "shutdown" })], { ms: 4, enough: 30 })).toBeNull();
    expect(finishLinger([running, ahead], { ms: 0, enough: 30 })).toBeNull();
  });
});
