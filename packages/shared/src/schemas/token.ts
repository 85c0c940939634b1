import { Type, type Static } from "typebox";
import { Id, Nullable, Text, Timestamp } from "./common.js";

export const ApiToken = Type.Object({
  id: Id("Token id"),
  username: Type.String(),
  name: Type.String(),
  createdAt: Timestamp(),
  lastUsedAt: Nullable(Timestamp("Kept to the minute")),
  revokedAt: Nullable(Timestamp()),
  expiresAt: Nullable(Timestamp("After this the token is refused; null: never")),
});
export type ApiToken = Static<typeof ApiToken>;
export const ApiTokenCreated = Type.Object(
  {
    ...ApiToken.properties,
    token: Type.String({ description: "The secret: shown once, stored only as a hash. Send as `Authorization: Bearer <token>`" }),
  },
  {
    examples: [
      {
        id: "3",
        username: "ci",
        name: "deploy pipeline",
        createdAt: "2030-01-01T00:00:00.000Z",
        lastUsedAt: null,
        revokedAt: null,
        expiresAt: "2030-04-01T00:00:00.000Z",
        token: "rwt_…",
      },
    ],
  },
);
export type ApiTokenCreated = Static<typeof ApiTokenCreated>;
export const ApiTokenList = Type.Object({ tokens: Type.Array(ApiToken) });
export type ApiTokenList = Static<typeof ApiTokenList>;
/** The longest a token may live, in days (10 years). */
export const TOKEN_MAX_DAYS = 3650;
export const ApiTokenCreate = Type.Object(
  {
    name: Text(1, 100, { examples: ["deploy pipeline"] }),
    expiresInDays: Type.Optional(
      Type.Integer({ minimum: 1, maximum: TOKEN_MAX_DAYS, description: "The token expires this many days from now" }),
    ),
    expiresAt: Type.Optional(Timestamp("The token expires at this time (in the future, at most 10 years away)")),
  },
  {
    additionalProperties: false,
    description: "Give at most one of expiresInDays and expiresAt; with neither the token never expires",
    examples: [{ name: "deploy pipeline", expiresInDays: 90 }],
  },
);
export type ApiTokenCreate = Static<typeof ApiTokenCreate>;
export const ApiTokenParams = Type.Object({ id: Id("Token id", "3") });
