import fp from "fastify-plugin";
import type { FastifyInstance } from "fastify";
import { generatePassword, hashPassword } from "../../auth/secrets.js";
import { userBootstrapAdmin, userCount } from "../../store/users.js";
import { withStartupRetry } from "../../db/startup-retry.js";

/**
 * First start of an empty database: creates user `admin` with RUNWAY_ADMIN_PASSWORD, or a generated
 * password printed once to the console (stdout, not the JSON log, so a person sees it).
 */
export default fp(
  async function bootstrap(app: FastifyInstance, opts: { print: (line: string) => void }) {
    const { db, config, clock } = app.ctx;
    if ((await withStartupRetry("first user", () => userCount(db))) > 0) return;
    const password = config.adminPassword ?? generatePassword();
    const passwordHash = await hashPassword(password);
    // Idempotent: a retry after a lost answer finds the user and reports "not created".
    const created = await withStartupRetry("first user", () => userBootstrapAdmin(db, { passwordHash, now: clock.now() }));
    if (!created) return; // another replica won the race
    if (config.adminPassword) {
      app.log.info("created user admin with the password from RUNWAY_ADMIN_PASSWORD");
    } else {
      opts.print(
        [
          "",
          "  Runway created the first user:",
          "    username: admin",
          `    password: ${password}`,
          "  It is shown only this once. Change it with PATCH /api/v1/users/admin, or set",
          "  RUNWAY_ADMIN_PASSWORD before the first start next time.",
          "",
        ].join("\n"),
      );
    }
  },
  { name: "runway-bootstrap", dependencies: ["runway-context"] },
);
