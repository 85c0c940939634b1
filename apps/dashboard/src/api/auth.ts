import { ApiError, request } from "./http";
import type { Me } from "./types";

/** The signed-in user, or null when there is no session. */
export async function authMe(): Promise<Me | null> {
  try {
    return await request<Me>("GET", "/auth/me", { quiet401: true });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

export async function authLogin(username: string, password: string): Promise<void> {
  await request<unknown>("POST", "/auth/login", { body: { username, password }, quiet401: true });
}

export async function authLogout(): Promise<void> {
  await request<unknown>("POST", "/auth/logout", { quiet401: true });
}
