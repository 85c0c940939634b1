import { Type, type Static } from "typebox";
import { Slug, Text } from "./common.js";

export const Instance = Type.Object(
  {
    id: Slug("Instance id", "pg-main"),
    title: Text(1, 200),
    engine: Type.Literal("POSTGRES"),
    connectionUrl: Type.String({ description: "Connection URL; the password is write-only and shown as ****" }),
  },
  {
    examples: [
      { id: "pg-main", title: "Main cluster", engine: "POSTGRES", connectionUrl: "postgres://runway:****@db.internal:5432/postgres" },
    ],
  },
);
export type Instance = Static<typeof Instance>;

const ConnectionUrl = Type.String({
  minLength: 1,
  maxLength: 2000,
  pattern: "^postgres(ql)?://[^\\u0000\\s]+$",
  description:
    "postgres:// or postgresql:// URL of the server (any database; tasks name their own). Stored encrypted. Refused (422 TARGET_REFUSED) " +
    "when it reaches Runway's own PostgreSQL server as its control database or as a role that could read it or reach the server's OS.",
  examples: ["postgres://runway:secret@db.internal:5432/postgres"],
});

export const InstanceCreate = Type.Object(
  {
    id: Slug("Instance id: lowercase letters, digits and dashes, starting with a letter", "pg-main"),
    title: Text(1, 200, { examples: ["Main cluster"] }),
    engine: Type.Optional(Type.Literal("POSTGRES", { default: "POSTGRES" })),
    connectionUrl: ConnectionUrl,
    projectIds: Type.Optional(
      Type.Array(Slug("Project id", "payments"), {
        maxItems: 1000,
        uniqueItems: true,
        description: "Projects whose tasks may use the instance",
      }),
    ),
  },
  {
    additionalProperties: false,
    examples: [
      {
        id: "pg-main",
        title: "Main cluster",
        connectionUrl: "postgres://runway:secret@db.internal:5432/postgres",
        projectIds: ["payments"],
      },
    ],
  },
);

export const InstancePatch = Type.Object(
  { title: Type.Optional(Text(1, 200)), connectionUrl: Type.Optional(ConnectionUrl) },
  {
    additionalProperties: false,
    minProperties: 1,
    examples: [{ connectionUrl: "postgres://runway:new-secret@db.internal:5432/postgres" }],
  },
);
export type InstanceCreate = Static<typeof InstanceCreate>;
export type InstancePatch = Static<typeof InstancePatch>;

export const InstanceParams = Type.Object({ instanceId: Slug("Instance id", "pg-main") });
export const ProjectInstanceParams = Type.Object({ projectId: Slug("Project id", "payments"), instanceId: Slug("Instance id", "pg-main") });
export const InstanceList = Type.Object({ instances: Type.Array(Instance) });
export type InstanceList = Static<typeof InstanceList>;

/** `POST /instances/:id/test`: whether Runway can reach the instance now, and what it sees there. */
export const ConnectionTestResult = Type.Object({
  reachable: Type.Boolean(),
  latencyMs: Type.Integer({ minimum: 0, description: "Time to connect and read, in ms" }),
  serverVersion: Type.Optional(Type.String({ examples: ["17.2"] })),
  databases: Type.Optional(Type.Array(Type.String(), { description: "Databases the instance's role may connect to" })),
  error: Type.Optional(Type.String({ description: "Why it could not connect (or was refused as Runway's own control plane)" })),
});
export type ConnectionTestResult = Static<typeof ConnectionTestResult>;
