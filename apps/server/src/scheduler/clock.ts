import type { Db } from "../store/db.js";
import { controlClockRead, type ClockSample } from "../store/clock.js";

/**
 * Time is injected so tests (and SQL, which takes `now` as a parameter) agree on what "now" is.
 *
 * In a replica the clock is a ControlClock: every `now` it hands out is the control database's time, so
 * run-at times, leases, sessions and cursors are all judged by one clock however far a replica's own
 * clock is off. `sync`, when present, refreshes it against its source (the heartbeat calls it).
 */
export interface Clock {
  now(): Date;
  sync?(): Promise<void>;
}

/** The process's own clock. Only for tests and tools that talk to no control database. */
export const systemClock: Clock = { now: () => new Date() };

/** How long from now until `at` by `clock`: what a timer that must fire at a database time waits. */
export function msUntil(clock: Clock, at: Date): number {
  return Math.max(0, at.getTime() - clock.now().getTime());
}

/**
 * The process clock a ControlClock counts with by default: wall time at process start plus a monotonic
 * count, so a step of the system clock (NTP, an operator) between two syncs does not move it.
 */
export const monotonicWallClock = (): number => performance.timeOrigin + performance.now();

export type { ClockSample };

/** Readings kept: the offset is taken from the one with the shortest round trip among them (NTP's filter). */
const WINDOW = 8;
/** Readings taken by the first sync, before any loop starts. */
const FIRST_SYNC_SAMPLES = 3;

/**
 * The control database's clock as seen from this process: the local clock plus the offset measured by
 * reading the database's `clock_timestamp()`. A reading is assumed taken halfway through its round trip,
 * so its error is at most half the round trip (well under a millisecond on a LAN).
 */
export class ControlClock implements Clock {
  private readonly samples: { offset: number; rtt: number }[] = [];
  private offset: number | undefined;
  /** now() never goes backwards when a new reading corrects the offset down. */
  private last = -Infinity;

  /** The control database's clock, measured from a process clock (`local`: injected only to skew it in tests). */
  static of(db: Db, local: () => number = monotonicWallClock): ControlClock {
    return new ControlClock((l) => controlClockRead(db, l), local);
  }

  constructor(
    /** Reads the source once, timing the round trip with the local clock it is given. */
    private readonly read: (local: () => number) => Promise<ClockSample>,
    private readonly local: () => number = monotonicWallClock,
  ) {}

  now(): Date {
    if (this.offset === undefined) throw new Error("ControlClock.now() before the first sync()");
    this.last = Math.max(this.last, this.local() + this.offset);
    return new Date(this.last);
  }

  /** The measured offset (source − local, ms) and the round trip of the reading it comes from. */
  get estimate(): { offsetMs: number; rttMs: number } | undefined {
    const best = this.best();
    return best && { offsetMs: best.offset, rttMs: best.rtt };
  }

  /** Takes a reading (several on the first call) and refreshes the offset. Throws when the source fails. */
  async sync(): Promise<void> {
    const n = this.samples.length === 0 ? FIRST_SYNC_SAMPLES : 1;
    for (let i = 0; i < n; i++) this.add(await this.read(this.local));
    this.offset = this.best()!.offset;
  }

  private add(s: ClockSample): void {
    const rtt = Math.max(0, s.receivedAt - s.sentAt);
    this.samples.push({ offset: s.sourceAt - (s.sentAt + rtt / 2), rtt });
    if (this.samples.length > WINDOW) this.samples.shift();
  }

  private best(): { offset: number; rtt: number } | undefined {
    let best: { offset: number; rtt: number } | undefined;
    for (const s of this.samples) if (!best || s.rtt <= best.rtt) best = s;
    return best;
  }
}
