import { request } from "./http";
import type { Project, ProjectList, ProjectPatch } from "./types";

export async function projectList(): Promise<Project[]> {
  return (await request<ProjectList>("GET", "/projects")).projects;
}

export function projectGet(projectId: string): Promise<Project> {
  return request<Project>("GET", `/projects/${encodeURIComponent(projectId)}`);
}

export function projectUpdate(projectId: string, patch: ProjectPatch): Promise<Project> {
  return request<Project>("PATCH", `/projects/${encodeURIComponent(projectId)}`, { body: patch });
}
