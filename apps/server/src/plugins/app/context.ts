import fp from "fastify-plugin";
import type { FastifyInstance } from "fastify";
import type pg from "pg";
import type { Config } from "../../config.js";
import type { Metrics } from "../../metrics.js";
import type { Clock } from "../../scheduler/clock.js";
import type { Db } from "../../store/db.js";
import type { Trust } from "../../trust.js";
import type { LocalRuns } from "../../scheduler/local-runs.js";

/** What routes and hooks may use. Routes call store functions with `db`; they never build SQL. */
export interface AppContext {
  db: Db;
  pool: pg.Pool;
  config: Config;
  metrics: Metrics;
  clock: Clock;
  /** Secret sealing and the target guard (trust.ts). */
  trust: Trust;
  /** Starts the API's new runs on this replica when it has free executor slots (scheduler/local-runs.ts). */
  runs: LocalRuns;
}

declare module "fastify" {
  interface FastifyInstance {
    ctx: AppContext;
  }
}

export default fp(
  async function context(app: FastifyInstance, opts: AppContext) {
    app.decorate("ctx", opts);
  },
  { name: "runway-context" },
);
