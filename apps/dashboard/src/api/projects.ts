import { request } from "./http";
import type { Project } from "./types";

export async function projectList(): Promise<Project[]> {
  const body = await request<{ projects: Project[] } | Project[]>("GET", "/projects");
  return Array.isArray(body) ? body : body.projects;
}

export function projectGet(projectId: string): Promise<Project> {
  return request<Project>("GET", `/projects/${encodeURIComponent(projectId)}`);
}

export function projectUpdate(projectId: string, patch: Partial<Omit<Project, "id">>): Promise<Project> {
  return request<Project>("PATCH", `/projects/${encodeURIComponent(projectId)}`, { body: patch });
}
