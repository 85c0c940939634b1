import { describe, expect, it } from "vitest";
import { Loop } from "./loop.js";

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("Loop", () => {
  it("never runs twice at once and does not lose a wake-up that arrives during a run", async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const gate = deferred();
    const secondRun = deferred();
    const loop = new Loop(
      "t",
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        runs++;
        if (runs === 1) await gate.promise;
        if (runs === 2) secondRun.resolve();
        running--;
      },
      { intervalMs: 60_000, onError: () => undefined },
    );
    loop.start();
    loop.wake();
    loop.wake();
    gate.resolve();
    await secondRun.promise;
    await loop.stop();
    expect(maxRunning).toBe(1);
    expect(runs).toBe(2);
  });

  it("reports errors and keeps going", async () => {
    const errors: unknown[] = [];
    const second = deferred();
    let n = 0;
    const loop = new Loop(
      "t",
      async () => {
        n++;
        if (n === 1) throw new Error("boom");
        second.resolve();
      },
      { intervalMs: 60_000, onError: (_name, e) => errors.push(e) },
    );
    loop.start();
    await new Promise<void>((r) => setImmediate(r));
    loop.wake();
    await second.promise;
    await loop.stop();
    expect(errors).toHaveLength(1);
  });

  it("wakes at a time of its own clock, however far that clock is from the process's", async () => {
    for (const offsetMs of [600_000, -600_000]) {
      // The loop's clock is the control database's; here it is ten minutes from the process clock.
      const clock = { now: () => new Date(Date.now() + offsetMs) };
      const woke = deferred();
      let runs = 0;
      const loop = new Loop(
        "t",
        async () => {
          if (++runs === 2) woke.resolve();
        },
        { intervalMs: 60_000, onError: () => undefined, clock },
      );
      loop.start();
      const started = performance.now();
      loop.wakeAt(new Date(clock.now().getTime() + 300));
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>(
        (_, reject) => (timer = setTimeout(() => reject(new Error("wakeAt did not fire within 30 s")), 30_000)),
      );
      await Promise.race([woke.promise, late]);
      clearTimeout(timer);
      const waited = performance.now() - started;
      await loop.stop();
      expect(waited).toBeGreaterThanOrEqual(290);
    }
  });

  it("defers the wake-ups of a quiet time, including one during the run that began it, into one run at its end", async () => {
    const at: number[] = [];
    const second = deferred();
    const loop = new Loop(
      "t",
      async () => {
        at.push(performance.now());
        if (at.length === 1) {
          loop.quietFor(200);
          loop.wake(); // during the run: would run again at once without the quiet time
        }
        if (at.length === 2) second.resolve();
      },
      { intervalMs: 60_000, onError: () => undefined },
    );
    await loop.start();
    loop.wake();
    loop.wake();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((_, reject) => (timer = setTimeout(() => reject(new Error("no run within 30 s")), 30_000)));
    await Promise.race([second.promise, late]);
    clearTimeout(timer);
    await loop.stop();
    // Three wake-ups (one during the first run, two after it) made one run, 200 ms after the first.
    expect(at).toHaveLength(2);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(195);
  });
});
