import { Type, type Static } from "typebox";
import { ProjectRoles } from "./project-member.js";
import { RoleSchema } from "./user.js";

export const Login = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false, examples: [{ username: "admin", password: "s3cret-passw0rd" }] },
);
export type Login = Static<typeof Login>;

/** The caller: who, with which role, and how signed in. */
export const Me = Type.Object(
  {
    username: Type.String(),
    role: RoleSchema,
    csrfToken: Type.Optional(
      Type.String({ description: "Send as the x-csrf-token header on every mutation made with the session cookie" }),
    ),
    via: Type.Enum(["session", "token"]),
    projectRoles: Type.Optional(ProjectRoles),
  },
  { examples: [{ username: "admin", role: "admin", csrfToken: "q1Yk…", via: "session", projectRoles: {} }] },
);
export type Me = Static<typeof Me>;

export const SignedOutEverywhere = Type.Object(
  { endedSessions: Type.Integer({ minimum: 0 }), revokedTokens: Type.Integer({ minimum: 0 }) },
  { examples: [{ endedSessions: 2, revokedTokens: 1 }] },
);
export type SignedOutEverywhere = Static<typeof SignedOutEverywhere>;
