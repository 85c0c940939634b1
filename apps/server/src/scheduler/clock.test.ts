import { describe, expect, it } from "vitest";
import { ControlClock, msUntil, type ClockSample } from "./clock.js";

/** A source 10 minutes ahead of a local clock the test moves by hand; each reading's round trip is given. */
function fixture(offsetMs: number) {
  let local = 1_000_000;
  const rtts: number[] = [];
  const read = async (): Promise<ClockSample> => {
    const rtt = rtts.shift() ?? 2;
    const sentAt = local;
    // The source answers halfway through the round trip (the assumption the clock makes).
    const sourceAt = sentAt + rtt / 2 + offsetMs;
    local += rtt;
    return { sentAt, sourceAt, receivedAt: local };
  };
  return { clock: new ControlClock(read, () => local), rtts, advance: (ms: number) => (local += ms), local: () => local };
}

describe("ControlClock", () => {
  it("refuses to tell the time before its first reading", () => {
    expect(() => fixture(0).clock.now()).toThrow(/before the first sync/);
  });

  it("tells the source's time whichever way the local clock is off, corrected by half the round trip", async () => {
    for (const offset of [600_000, -600_000, 0]) {
      const f = fixture(offset);
      f.rtts.push(40, 40, 40);
      await f.clock.sync();
      expect(f.clock.estimate).toEqual({ offsetMs: offset, rttMs: 40 });
      f.advance(2000);
      expect(f.clock.now().getTime()).toBe(f.local() + offset);
      // A timer for a source time two seconds ahead waits two seconds, not two seconds ± ten minutes.
      expect(msUntil(f.clock, new Date(f.local() + offset + 2000))).toBe(2000);
    }
  });

  it("trusts the reading with the shortest round trip (a slow answer's midpoint is least certain)", async () => {
    let local = 0;
    const answers = [
      { rtt: 10, skew: 0 },
      { rtt: 10, skew: 0 },
      { rtt: 10, skew: 0 },
      // The answer was delayed on the way back: its midpoint guess is 400 ms late.
      { rtt: 800, skew: -400 },
    ];
    const clock = new ControlClock(
      async () => {
        const a = answers.shift()!;
        const sentAt = local;
        local += a.rtt;
        return { sentAt, sourceAt: sentAt + a.rtt / 2 + 5000 + a.skew, receivedAt: local };
      },
      () => local,
    );
    await clock.sync();
    await clock.sync();
    expect(clock.estimate).toEqual({ offsetMs: 5000, rttMs: 10 });
  });

  it("never goes backwards when a reading corrects the offset down", async () => {
    const offsets = [1000, 1000, 1000, 900];
    let local = 0;
    const clock = new ControlClock(
      async () => ({ sentAt: local, sourceAt: local + offsets.shift()!, receivedAt: local }),
      () => local,
    );
    await clock.sync();
    const before = clock.now().getTime();
    await clock.sync();
    expect(clock.estimate?.offsetMs).toBe(900);
    expect(clock.now().getTime()).toBe(before);
    local += 150;
    expect(clock.now().getTime()).toBe(local + 900);
  });

  it("fails its sync when the source cannot be read, keeping the last offset", async () => {
    let fail = false;
    const clock = new ControlClock(
      async () => {
        if (fail) throw new Error("connection lost");
        return { sentAt: 0, sourceAt: 7, receivedAt: 0 };
      },
      () => 0,
    );
    await clock.sync();
    fail = true;
    await expect(clock.sync()).rejects.toThrow("connection lost");
    expect(clock.now().getTime()).toBe(7);
  });
});
