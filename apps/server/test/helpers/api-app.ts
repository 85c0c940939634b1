import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from "fastify";
import type { Role } from "@runway/shared";
import { afterAll, afterEach, beforeAll } from "vitest";
import type { Clock } from "../../src/scheduler/clock.js";
import type { Db } from "../../src/store/db.js";
import {
  ADMIN_PASSWORD,
  apiProject,
  apiRollout,
  bearerFor,
  buildTestApp,
  call,
  login,
  userWithRole,
  type taskSpec,
  type Who,
} from "./api.js";
import { createTestDatabase, type TestDatabase } from "./db.js";

type AppOptions = Parameters<typeof buildTestApp>[1];

/** What a server API test file works with: its own database, an app on it, and one signed-in user per role. */
export interface ApiApp {
  readonly t: TestDatabase;
  readonly db: Db;
  readonly app: FastifyInstance;
  /** Sessions (cookie + CSRF header), signed in through the API. */
  readonly admin: Who;
  readonly releaser: Who;
  readonly viewer: Who;
  /** inject() into the file's app as someone (null: anonymous). */
  call(who: Who | null, opts: InjectOptions): Promise<LightMyRequestResponse>;
  /** Another user of `role`, signed in. */
  user(role: Role): Promise<Who>;
  /** The same user with an API token instead of the session. */
  bearer(who: Who): Promise<Who>;
  /** A fresh project (unique id) and instance, made by the admin. */
  project(limit?: number): Promise<{ projectId: string; instanceId: string }>;
  /** A rollout made through the API by `who` (default: the releaser); its task and stage ids in order. */
  rollout(
    projectId: string,
    stages: ReturnType<typeof taskSpec>[][],
    who?: Who,
    /** More of the creation body, e.g. `{ stageOrder: "NONE" }`. */
    extra?: Record<string, unknown>,
  ): Promise<{ rolloutId: string; taskIds: string[]; stageIds: string[] }>;
  /** Another app on the file's database (other config, a second replica); closed after the test. */
  extraApp(opts?: AppOptions): Promise<FastifyInstance>;
}

interface State {
  t: TestDatabase;
  app: FastifyInstance;
  admin: Who;
  releaser: Who;
  viewer: Who;
}

let projectSeq = 0;

/**
 * The setup every API test file shares, registered as that file's hooks: before its tests, a database
 * cloned from the migrated template, the app built on it, and an admin, a releaser and a viewer signed in;
 * after them, the app closed and the database dropped. Call it once at the top of the file.
 */
export function useApiApp(opts: { env?: Record<string, string>; clock?: Clock } = {}): ApiApp {
  let state: State | undefined;
  const extra: FastifyInstance[] = [];

  beforeAll(async () => {
    const t = await createTestDatabase();
    try {
      const app = await buildTestApp(t, opts);
      const admin = await login(app, "admin", ADMIN_PASSWORD);
      state = { t, app, admin, releaser: await userWithRole(app, t, "releaser"), viewer: await userWithRole(app, t, "viewer") };
    } catch (e) {
      await t.close();
      throw e;
    }
  });
  afterEach(async () => {
    await Promise.all(extra.splice(0).map((a) => a.close()));
  });
  afterAll(async () => {
    await state?.app.close();
    await state?.t.close();
    state = undefined;
  });

  const s = (): State => {
    if (!state) throw new Error("useApiApp(): its database and app exist only inside the file's tests and hooks");
    return state;
  };
  return {
    get t() {
      return s().t;
    },
    get db() {
      return s().t.db;
    },
    get app() {
      return s().app;
    },
    get admin() {
      return s().admin;
    },
    get releaser() {
      return s().releaser;
    },
    get viewer() {
      return s().viewer;
    },
    call: (who, o) => call(s().app, who, o),
    user: (role) => userWithRole(s().app, s().t, role),
    bearer: (who) => bearerFor(s().app, who),
    project: (limit = 0) => apiProject(s().app, s().admin, `proj-${++projectSeq}`, limit),
    rollout: (projectId, stages, who, extra) => apiRollout(s().app, who ?? s().releaser, projectId, stages, extra),
    extraApp: async (o) => {
      const app = await buildTestApp(s().t, o);
      extra.push(app);
      return app;
    },
  };
}
