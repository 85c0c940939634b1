import { Type } from "typebox";

export const ProjectRoleSchema = Type.Enum(["none", "viewer", "releaser"], {
  description: "Replaces the user's global role inside this project: none hides the project; releaser may create rollouts and run, skip and cancel tasks. Admins are admins everywhere.",
});

/** /auth/me: the caller's grants (project id → role); other projects use the global role. */
export const ProjectRoles = Type.Record(Type.String(), ProjectRoleSchema, { description: "Per-project roles of the user; elsewhere the global role applies" });
