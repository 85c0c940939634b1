/** `@runway/server/scheduler`: the schedulers, the sweeper and the clock. See README.md here. */
export { ControlClock, systemClock } from "../scheduler/clock.js";
export { PendingScheduler, type PassResult } from "../scheduler/pending-scheduler.js";
export { SchedulerRuntime } from "../scheduler/runtime.js";
export { Sweeper } from "../scheduler/sweeper.js";
export { Listener } from "../db/listener.js";
