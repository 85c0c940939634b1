import { Type } from "typebox";
import { Role } from "@runway/shared";
import { ProjectRoles } from "./project-roles.js";
import { Id, NextPageToken, Nullable, PageQuery, Text, Timestamp } from "./common.js";

export const RoleSchema = Type.Enum(Object.values(Role), { description: "viewer: read; releaser: also run, skip, cancel, create rollouts; admin: everything" });
export const Username = Type.String({ pattern: "^[a-z][a-z0-9._-]{0,63}$", examples: ["alice"] });
/** Long enough to matter, short enough that hashing stays cheap. */
export const Password = Type.String({ minLength: 8, maxLength: 200, examples: ["correct horse battery staple"] });

export const Login = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false, examples: [{ username: "admin", password: "s3cret-passw0rd" }] },
);

export const Me = Type.Object(
  {
    username: Type.String(),
    role: RoleSchema,
    csrfToken: Type.Optional(Type.String({ description: "Send as the x-csrf-token header on every mutation made with the session cookie" })),
    via: Type.Enum(["session", "token"]),
    projectRoles: Type.Optional(ProjectRoles),
  },
  { examples: [{ username: "admin", role: "admin", csrfToken: "q1Yk…", via: "session", projectRoles: {} }] },
);

export const User = Type.Object({ username: Username, role: RoleSchema, disabled: Type.Boolean(), createdAt: Timestamp() });
export const UserList = Type.Object({ users: Type.Array(User) });
export const UserParams = Type.Object({ username: Username });
export const UserCreate = Type.Object(
  { username: Username, password: Password, role: RoleSchema },
  { additionalProperties: false, examples: [{ username: "alice", password: "correct horse battery staple", role: "releaser" }] },
);
export const UserPatch = Type.Object(
  { role: Type.Optional(RoleSchema), disabled: Type.Optional(Type.Boolean()), password: Type.Optional(Password) },
  { additionalProperties: false, minProperties: 1, examples: [{ role: "viewer" }, { disabled: true }] },
);

export const ApiToken = Type.Object({
  id: Id("Token id"),
  username: Type.String(),
  name: Type.String(),
  createdAt: Timestamp(),
  lastUsedAt: Nullable(Timestamp("Kept to the minute")),
  revokedAt: Nullable(Timestamp()),
});
export const ApiTokenCreated = Type.Object(
  { ...ApiToken.properties, token: Type.String({ description: "The secret: shown once, stored only as a hash. Send as `Authorization: Bearer <token>`" }) },
  { examples: [{ id: "3", username: "ci", name: "deploy pipeline", createdAt: "2030-01-01T00:00:00.000Z", lastUsedAt: null, revokedAt: null, token: "rwt_…" }] },
);
export const ApiTokenList = Type.Object({ tokens: Type.Array(ApiToken) });
export const ApiTokenCreate = Type.Object(
  { name: Text(1, 100, { examples: ["deploy pipeline"] }) },
  { additionalProperties: false, examples: [{ name: "deploy pipeline" }] },
);
export const ApiTokenParams = Type.Object({ id: Id("Token id", "3") });

export const AuditQuery = Type.Object(
  { actor: Type.Optional(Type.String({ maxLength: 64 })), action: Type.Optional(Type.String({ maxLength: 64 })), ...PageQuery(100) },
  { additionalProperties: false },
);
export const AuditEntries = Type.Object({
  entries: Type.Array(Type.Object({
    id: Id("Entry id"),
    at: Timestamp(),
    actor: Nullable(Type.String()),
    action: Type.String({ examples: ["task-runs.cancel"] }),
    target: Nullable(Type.String({ examples: ["rollout/12"] })),
    outcome: Type.String({ description: "SUCCESS or the error code", examples: ["SUCCESS", "CONFLICT"] }),
    detail: Type.Unknown(),
  })),
  nextPageToken: NextPageToken,
});
