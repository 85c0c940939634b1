import { request } from "./http";
import type { ApiToken, ApiTokenCreated } from "./types";

/** The expiries the dashboard offers; the API also takes expiresAt or none. */
export const TOKEN_EXPIRY_DAYS = [30, 90, 365] as const;
export const DEFAULT_TOKEN_EXPIRY_DAYS = 90;

export async function tokenList(): Promise<ApiToken[]> {
  return (await request<{ tokens: ApiToken[] }>("GET", "/tokens")).tokens;
}

export function tokenCreate(name: string, expiresInDays: number): Promise<ApiTokenCreated> {
  return request<ApiTokenCreated>("POST", "/tokens", { body: { name, expiresInDays } });
}

export async function tokenRevoke(id: string): Promise<void> {
  await request<unknown>("DELETE", `/tokens/${encodeURIComponent(id)}`);
}

/** Ends every session of the signed-in user and revokes all their API tokens. */
export function signOutEverywhere(): Promise<{ endedSessions: number; revokedTokens: number }> {
  return request("POST", "/auth/sign-out-everywhere");
}
