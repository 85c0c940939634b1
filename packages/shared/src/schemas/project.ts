import { Type, type Static } from "typebox";
import { Slug, Text } from "./common.js";

const example = { id: "payments", title: "Payments", parallelTasksPerRollout: 4 };

export const Project = Type.Object(
  {
    id: Slug("Project id", "payments"),
    title: Text(1, 200),
    parallelTasksPerRollout: Type.Integer({ minimum: 0, description: "AVAILABLE+RUNNING tasks per rollout; 0 = no limit" }),
  },
  { examples: [example] },
);
export type Project = Static<typeof Project>;

export const ProjectCreate = Type.Object(
  {
    id: Slug("Project id: lowercase letters, digits and dashes, starting with a letter", "payments"),
    title: Text(1, 200, { examples: ["Payments"] }),
    parallelTasksPerRollout: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000, default: 0 })),
  },
  { additionalProperties: false, examples: [example] },
);
export type ProjectCreate = Static<typeof ProjectCreate>;

export const ProjectPatch = Type.Object(
  {
    title: Type.Optional(Text(1, 200)),
    parallelTasksPerRollout: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000 })),
  },
  { additionalProperties: false, minProperties: 1, examples: [{ parallelTasksPerRollout: 2 }] },
);
export type ProjectPatch = Static<typeof ProjectPatch>;

export const ProjectParams = Type.Object({ projectId: Slug("Project id", "payments") });
export const ProjectList = Type.Object({ projects: Type.Array(Project) });
export type ProjectList = Static<typeof ProjectList>;
