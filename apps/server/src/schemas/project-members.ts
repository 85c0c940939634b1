import { Type } from "typebox";
import { Slug, Timestamp } from "./common.js";
import { Username } from "./auth.js";
import { ProjectRoleSchema } from "./project-roles.js";

export { ProjectRoleSchema };

export const ProjectMember = Type.Object(
  { username: Username, role: ProjectRoleSchema, grantedBy: Type.String(), grantedAt: Timestamp() },
  { examples: [{ username: "alice", role: "releaser", grantedBy: "admin", grantedAt: "2030-01-01T00:00:00.000Z" }] },
);
export const ProjectMemberList = Type.Object({ members: Type.Array(ProjectMember) });
export const ProjectMemberParams = Type.Object({ projectId: Slug("Project id", "payments"), username: Username });
export const ProjectMemberGrant = Type.Object(
  { role: ProjectRoleSchema },
  { additionalProperties: false, examples: [{ role: "releaser" }, { role: "none" }] },
);
