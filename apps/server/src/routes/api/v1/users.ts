import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { hashPassword } from "../../../auth/secrets.js";
import { userCreate, userList, userUpdate } from "../../../store/users.js";
import { errorResponses, User, UserCreate, UserList, UserParams, UserPatch } from "@runway/shared/schemas";

const tags = ["auth"];

const userRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, clock } = app.ctx;

  app.get(
    "/users",
    { config: { auth: "admin" }, schema: { tags, summary: "List users", response: { 200: UserList, ...errorResponses } } },
    async () => ({ users: await userList(db) }),
  );

  app.post(
    "/users",
    {
      config: { auth: "admin", audit: "user.create" },
      schema: { tags, summary: "Create a user", body: UserCreate, response: { 201: User, ...errorResponses } },
    },
    async (req, reply) => {
      const { username, password, role } = req.body;
      req.audit.target = `user/${username}`;
      req.audit.detail = { role };
      const user = await userCreate(db, { username, role, passwordHash: await hashPassword(password), now: clock.now() });
      return reply.code(201).send(user);
    },
  );

  app.patch(
    "/users/:username",
    {
      config: { auth: "admin", audit: "user.update" },
      schema: {
        tags,
        summary: "Change a user's role, disable or enable them, or set a new password",
        description:
          "Disabling or a new password ends the user's sessions; a new password also revokes their API tokens, and a disabled " +
          "user's tokens stop working. The last enabled admin cannot be demoted or disabled.",
        params: UserParams,
        body: UserPatch,
        response: { 200: User, ...errorResponses },
      },
    },
    async (req) => {
      const { role, disabled, password } = req.body;
      req.audit.target = `user/${req.params.username}`;
      req.audit.detail = { role, disabled, passwordChanged: password !== undefined };
      return userUpdate(
        db,
        req.params.username,
        {
          ...(role !== undefined ? { role } : {}),
          ...(disabled !== undefined ? { disabled } : {}),
          ...(password !== undefined ? { passwordHash: await hashPassword(password) } : {}),
        },
        clock.now(),
      );
    },
  );
};

export default userRoutes;
