import { request } from "./http";
import type { ReplicaList } from "./types";

/** Live replicas, their executor slots and whether AVAILABLE runs wait for a free executor. */
export async function replicasList(): Promise<ReplicaList> {
  return request<ReplicaList>("GET", "/replicas");
}
