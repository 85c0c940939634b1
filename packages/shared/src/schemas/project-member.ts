import { Type, type Static } from "typebox";
import { Slug, Timestamp } from "./common.js";
import { Username } from "./user.js";

/** A per-project role: replaces the user's global role inside that project (`none` hides it). */
export const ProjectRoleSchema = Type.Enum(["none", "viewer", "releaser"], {
  description:
    "Replaces the user's global role inside this project: none hides the project; releaser may create rollouts and run, skip and cancel tasks. Admins are admins everywhere.",
});
export type ProjectRole = Static<typeof ProjectRoleSchema>;

/** /auth/me: the caller's grants (project id → role); other projects use the global role. */
export const ProjectRoles = Type.Record(Type.String(), ProjectRoleSchema, {
  description: "Per-project roles of the user; elsewhere the global role applies",
});
export type ProjectRoles = Static<typeof ProjectRoles>;

export const ProjectMember = Type.Object(
  { username: Username, role: ProjectRoleSchema, grantedBy: Type.String(), grantedAt: Timestamp() },
  { examples: [{ username: "alice", role: "releaser", grantedBy: "admin", grantedAt: "2030-01-01T00:00:00.000Z" }] },
);
export type ProjectMember = Static<typeof ProjectMember>;
export const ProjectMemberList = Type.Object({ members: Type.Array(ProjectMember) });
export type ProjectMemberList = Static<typeof ProjectMemberList>;
export const ProjectMemberParams = Type.Object({ projectId: Slug("Project id", "payments"), username: Username });
export const ProjectMemberGrant = Type.Object(
  { role: ProjectRoleSchema },
  { additionalProperties: false, examples: [{ role: "releaser" }, { role: "none" }] },
);
export type ProjectMemberGrant = Static<typeof ProjectMemberGrant>;
