/** Time is injected so tests (and SQL, which takes `now` as a parameter) agree on what "now" is. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
