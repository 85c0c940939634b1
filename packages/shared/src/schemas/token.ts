import { Type, type Static } from "typebox";
import { Id, Nullable, Text, Timestamp } from "./common.js";

export const ApiToken = Type.Object({
  id: Id("Token id"),
  username: Type.String(),
  name: Type.String(),
  createdAt: Timestamp(),
  lastUsedAt: Nullable(Timestamp("Kept to the minute")),
  revokedAt: Nullable(Timestamp()),
});
export type ApiToken = Static<typeof ApiToken>;
export const ApiTokenCreated = Type.Object(
  { ...ApiToken.properties, token: Type.String({ description: "The secret: shown once, stored only as a hash. Send as `Authorization: Bearer <token>`" }) },
  { examples: [{ id: "3", username: "ci", name: "deploy pipeline", createdAt: "2030-01-01T00:00:00.000Z", lastUsedAt: null, revokedAt: null, token: "rwt_…" }] },
);
export type ApiTokenCreated = Static<typeof ApiTokenCreated>;
export const ApiTokenList = Type.Object({ tokens: Type.Array(ApiToken) });
export type ApiTokenList = Static<typeof ApiTokenList>;
export const ApiTokenCreate = Type.Object(
  { name: Text(1, 100, { examples: ["deploy pipeline"] }) },
  { additionalProperties: false, examples: [{ name: "deploy pipeline" }] },
);
export type ApiTokenCreate = Static<typeof ApiTokenCreate>;
export const ApiTokenParams = Type.Object({ id: Id("Token id", "3") });
