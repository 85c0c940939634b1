import { Type, type Static } from "typebox";
import { Role } from "../status.js";
import { Timestamp } from "./common.js";

export const RoleSchema = Type.Enum(Role, {
  description: "viewer: read; releaser: also run, skip, cancel, create rollouts; admin: everything",
});
export const Username = Type.String({ pattern: "^[a-z][a-z0-9._-]{0,63}$", examples: ["alice"] });
/** Long enough to matter, short enough that hashing stays cheap. */
export const Password = Type.String({ minLength: 8, maxLength: 200, examples: ["correct horse battery staple"] });

export const User = Type.Object({ username: Username, role: RoleSchema, disabled: Type.Boolean(), createdAt: Timestamp() });
export type User = Static<typeof User>;
export const UserList = Type.Object({ users: Type.Array(User) });
export type UserList = Static<typeof UserList>;
export const UserParams = Type.Object({ username: Username });
export const UserCreate = Type.Object(
  { username: Username, password: Password, role: RoleSchema },
  { additionalProperties: false, examples: [{ username: "alice", password: "correct horse battery staple", role: "releaser" }] },
);
export type UserCreate = Static<typeof UserCreate>;
export const UserPatch = Type.Object(
  { role: Type.Optional(RoleSchema), disabled: Type.Optional(Type.Boolean()), password: Type.Optional(Password) },
  { additionalProperties: false, minProperties: 1, examples: [{ role: "viewer" }, { disabled: true }] },
);
export type UserPatch = Static<typeof UserPatch>;
