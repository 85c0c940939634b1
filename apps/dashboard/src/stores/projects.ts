import { defineStore } from "pinia";
import { computed, ref } from "vue";
import { projectGet, projectList, projectUpdate, type Project } from "@/api";

export const useProjectsStore = defineStore("projects", () => {
  const projects = ref<Project[]>([]);
  const loading = ref(false);
  const byId = computed(() => new Map(projects.value.map((p) => [p.id, p])));

  function put(p: Project) {
    const i = projects.value.findIndex((x) => x.id === p.id);
    if (i >= 0) projects.value.splice(i, 1, p);
    else projects.value.push(p);
  }

  async function load(): Promise<void> {
    loading.value = true;
    try {
      projects.value = await projectList();
    } finally {
      loading.value = false;
    }
  }

  async function fetchOne(id: string): Promise<Project> {
    const p = await projectGet(id);
    put(p);
    return p;
  }

  async function setParallelLimit(id: string, limit: number): Promise<Project> {
    const p = await projectUpdate(id, { parallelTasksPerRollout: limit });
    put(p);
    return p;
  }

  return { projects, loading, byId, load, fetchOne, setParallelLimit };
});
