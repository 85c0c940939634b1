import type { Role } from "@runway/shared";
import { request } from "./http";
import type { AuditEntries, ConnectionTestResult, Instance, InstanceList, User, UserList } from "./types";

/** The admin pages' calls: users, instances and the audit log (the server refuses anyone but an admin). */
export async function userList(): Promise<User[]> {
  return (await request<UserList>("GET", "/users")).users;
}

export function userCreate(body: { username: string; password: string; role: Role }): Promise<User> {
  return request<User>("POST", "/users", { body });
}

export function userUpdate(username: string, patch: { role?: Role; disabled?: boolean; password?: string }): Promise<User> {
  return request<User>("PATCH", `/users/${encodeURIComponent(username)}`, { body: patch });
}

export async function instanceList(): Promise<Instance[]> {
  return (await request<InstanceList>("GET", "/instances")).instances;
}

export function instanceCreate(body: { id: string; title: string; connectionUrl: string; projectIds: string[] }): Promise<Instance> {
  return request<Instance>("POST", "/instances", { body });
}

export function instanceTest(id: string): Promise<ConnectionTestResult> {
  return request<ConnectionTestResult>("POST", `/instances/${encodeURIComponent(id)}/test`);
}

export function auditList(p: { q?: string; outcome?: string; pageSize?: number; pageToken?: string | null }): Promise<AuditEntries> {
  return request<AuditEntries>("GET", "/audit-log", {
    query: { q: p.q, outcome: p.outcome, pageSize: p.pageSize, pageToken: p.pageToken },
  });
}
