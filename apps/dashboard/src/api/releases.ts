import { request } from "./http";
import type {
  DatabaseGroup,
  DatabaseGroupCreate,
  DatabaseGroupList,
  Instance,
  InstanceDatabases,
  InstanceList,
  Release,
  ReleasePlan,
  ReleaseRolloutCreated,
} from "./types";

/** Issue 16's resources: instance databases, database groups, releases and rollouts from releases. */

const p = (projectId: string) => `/projects/${encodeURIComponent(projectId)}`;

export type StageTarget = { group: string } | { instanceId: string; database: string };
export interface StageInput {
  environment: string;
  targets: StageTarget[];
}

export async function projectInstances(projectId: string): Promise<Instance[]> {
  return (await request<InstanceList>("GET", `${p(projectId)}/instances`)).instances;
}

export function instanceDatabases(instanceId: string): Promise<InstanceDatabases> {
  return request<InstanceDatabases>("GET", `/instances/${encodeURIComponent(instanceId)}/databases`);
}

export function instanceDatabasesRefresh(instanceId: string): Promise<InstanceDatabases> {
  return request<InstanceDatabases>("POST", `/instances/${encodeURIComponent(instanceId)}/databases/refresh`, { body: {} });
}

export async function groupList(projectId: string): Promise<DatabaseGroup[]> {
  return (await request<DatabaseGroupList>("GET", `${p(projectId)}/database-groups`)).groups;
}

export function groupCreate(projectId: string, g: DatabaseGroupCreate): Promise<DatabaseGroup> {
  return request<DatabaseGroup>("POST", `${p(projectId)}/database-groups`, { body: g });
}

export function groupDelete(projectId: string, name: string): Promise<void> {
  return request<void>("DELETE", `${p(projectId)}/database-groups/${encodeURIComponent(name)}`);
}

export function releaseCreate(projectId: string, title: string, files: { name: string; content: string }[]): Promise<Release> {
  return request<Release>("POST", `${p(projectId)}/releases`, { body: { title, files } });
}

export function releasePreview(projectId: string, releaseId: string, stages: StageInput[]): Promise<ReleasePlan> {
  return request<ReleasePlan>("POST", `${p(projectId)}/releases/${releaseId}/preview`, { body: { stages } });
}

export function releaseRollout(projectId: string, releaseId: string, title: string, stages: StageInput[]): Promise<ReleaseRolloutCreated> {
  return request<ReleaseRolloutCreated>("POST", `${p(projectId)}/releases/${releaseId}/rollouts`, { body: { title, stages } });
}
