import type { Api } from "./api.js";
import type { CancelEvent } from "./facts.js";
import type { ReplicaSet } from "./replicas.js";
import type { PlannedRollout, Workload } from "./workload.js";

/** Ids the server gave the planned workload. */
export interface Submitted {
  rolloutIds: string[];
  taskIdByKey: Map<string, string>;
  keyByTaskId: Map<string, string>;
}

interface ApiTask {
  id: string;
  database: string;
  statement: string;
  type: string;
  status: string;
  latestRun?: { id: string; status: string; replicaId: string | null };
}

export const INSTANCE_ID = "chaos-pg";

async function listTasks(api: Api, rolloutId: string, status?: string): Promise<ApiTask[]> {
  const out: ApiTask[] = [];
  let token: string | null = null;
  do {
    const q = new URLSearchParams({ pageSize: "1000" });
    if (status) q.set("status", status);
    if (token) q.set("pageToken", token);
    const page: { tasks: ApiTask[]; nextPageToken: string | null } = await api.must("GET", `/rollouts/${rolloutId}/tasks?${q}`);
    out.push(...page.tasks);
    token = page.nextPageToken;
  } while (token);
  return out;
}

/** Creates the instance, the projects and every rollout through the API (before any fault). */
export async function createWorkload(api: Api, w: Workload, serverUrl: string): Promise<Submitted> {
  for (const p of w.projects) {
    await api.must("POST", "/projects", { id: p.id, title: `Chaos ${p.id}`, parallelTasksPerRollout: p.limit }, 201);
  }
  await api.must(
    "POST",
    "/instances",
    { id: INSTANCE_ID, title: "Chaos target server", connectionUrl: serverUrl, projectIds: w.projects.map((p) => p.id) },
    201,
  );
  const s: Submitted = { rolloutIds: [], taskIdByKey: new Map(), keyByTaskId: new Map() };
  for (const r of w.rollouts) {
    const body = {
      title: r.title,
      // The harness tests fault safety, not release controls: every stage has deliberate failures and
      // cancels, and with the stage gate (the default) a later stage would rightly wait for good behind
      // them. Stage order is tested by the server's tests and the live-pass oracle.
      stageOrder: "NONE",
      stages: r.stages.map((st) => ({
        environment: st.environment,
        tasks: st.tasks.map((t) => ({
          type: t.type,
          instanceId: INSTANCE_ID,
          database: t.database,
          statement: t.statement,
          ...(t.schemaVersion ? { schemaVersion: t.schemaVersion } : {}),
        })),
      })),
    };
    const created = await api.must<{ id: string }>("POST", `/projects/${r.projectId}/rollouts`, body, 201);
    s.rolloutIds[r.index] = created.id;
    // Statements are unique (each carries its task's marker), except DATABASE_CREATE's: by database.
    const byText = new Map(
      (await listTasks(api, created.id)).map((t) => [t.type === "DATABASE_CREATE" ? `db:${t.database}` : t.statement, t.id]),
    );
    for (const st of r.stages) {
      for (const t of st.tasks) {
        const id = byText.get(t.kind === "create" ? `db:${t.database}` : t.statement);
        if (!id) throw new Error(`task ${t.key} of rollout ${r.index} not found after creation`);
        s.taskIdByKey.set(t.key, id);
        s.keyByTaskId.set(id, t.key);
      }
    }
  }
  return s;
}

/**
 * Submits one rollout's tasks: most now, the scheduled ones with runAt a few seconds ahead. A ladder's
 * tasks (`ladderAtMs`) run at `windowStart + ladderAtMs + scheduleDelayMs`, one call per run-at, latest
 * first. Returns how many ladder runs were submitted too late to be scheduled (they then run at once).
 */
export async function submitRollout(api: Api, r: PlannedRollout, s: Submitted, windowStart: number): Promise<number> {
  const rid = s.rolloutIds[r.index]!;
  const byDelay = new Map<number | null, string[]>();
  for (const t of r.stages.flatMap((st) => st.tasks)) {
    const ids = byDelay.get(t.scheduleDelayMs) ?? [];
    ids.push(s.taskIdByKey.get(t.key)!);
    byDelay.set(t.scheduleDelayMs, ids);
  }
  if (r.ladderAtMs !== undefined) {
    let late = 0;
    for (const [delay, ids] of [...byDelay].sort(([a], [b]) => (b ?? 0) - (a ?? 0))) {
      const at = windowStart + r.ladderAtMs + (delay ?? 0);
      await api.must("POST", `/rollouts/${rid}/tasks/run`, { taskIds: ids, runAt: new Date(at).toISOString() });
      if (Date.now() >= at) late += ids.length;
    }
    return late;
  }
  // Immediate ones first, then by delay.
  for (const [delay, ids] of [...byDelay].sort(([a], [b]) => (a ?? -1) - (b ?? -1))) {
    const runAt = delay === null ? {} : { runAt: new Date(Date.now() + delay).toISOString() };
    for (let i = 0; i < ids.length; i += 1000) {
      await api.must("POST", `/rollouts/${rid}/tasks/run`, { taskIds: ids.slice(i, i + 1000), ...runAt });
    }
  }
  return 0;
}

/**
 * Cancels the rollout's PENDING runs (never started, so canceled at once). A run that moves on between the
 * listing and the cancel makes the API refuse the whole request (409), and a replica may die under the
 * call: list again and retry.
 */
async function cancelPendingRuns(api: Api, rolloutId: string): Promise<number> {
  let canceled = 0;
  let last = "";
  for (let attempt = 0; attempt < 10; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 100));
    const runIds = (await listTasks(api, rolloutId, "PENDING")).map((t) => t.latestRun!.id);
    let again = false;
    for (let i = 0; i < runIds.length; i += 1000) {
      const ids = runIds.slice(i, i + 1000);
      const res = await api
        .call("POST", `/rollouts/${rolloutId}/task-runs/cancel`, { taskRunIds: ids })
        .catch((e: Error) => ({ status: 0, body: e.message }));
      if (res.status === 200) canceled += ids.length;
      else if (res.status === 409 || res.status === 0 || res.status >= 500) again = true;
      else throw new Error(`cancel of PENDING runs in rollout ${rolloutId}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
      if (res.status !== 200) last = `HTTP ${res.status} ${JSON.stringify(res.body)}`;
    }
    if (!again) return canceled;
  }
  throw new Error(`cancel of PENDING runs in rollout ${rolloutId}: gave up after 10 tries (${last})`);
}

/** Cancels the ballast (PENDING, an hour ahead): canceled at once, it never runs. */
export async function cancelBallast(api: Api, w: Workload, s: Submitted): Promise<number> {
  const ballast = w.rollouts.find((r) => r.projectId === "chaos-ballast");
  if (!ballast) return 0;
  return cancelPendingRuns(api, s.rolloutIds[ballast.index]!);
}

/** Cancels what is left of a ladder after its burst: the runs still PENDING (see planLadders). */
export async function cancelLadderLeftovers(api: Api, r: PlannedRollout, s: Submitted): Promise<number> {
  return cancelPendingRuns(api, s.rolloutIds[r.index]!);
}

/**
 * Cancels each cancel target once it is RUNNING, through a replica other than its owner, and records what
 * the API answered. Runs until stopped.
 */
export class CancelWatcher {
  readonly events: CancelEvent[] = [];
  private readonly pending: Map<string, { key: string; rolloutId: string }>;
  private readonly rolloutIndex: Map<string, number>;
  private stopped = false;
  private rr = 0;

  constructor(
    private readonly api: Api,
    private readonly replicas: ReplicaSet,
    w: Workload,
    s: Submitted,
    private readonly submittedRollouts: Set<number>,
  ) {
    this.pending = new Map(
      w.tasks
        .filter((t) => t.kind === "cancel")
        .map((t) => [s.taskIdByKey.get(t.key)!, { key: t.key, rolloutId: s.rolloutIds[t.rollout]! }]),
    );
    this.rolloutIndex = new Map(w.tasks.filter((t) => t.kind === "cancel").map((t) => [s.rolloutIds[t.rollout]!, t.rollout]));
  }

  async run(): Promise<void> {
    while (!this.stopped && this.pending.size > 0) {
      const rollouts = new Set([...this.pending.values()].map((p) => p.rolloutId));
      for (const rolloutId of rollouts) {
        if (!this.submittedRollouts.has(this.rolloutIndex.get(rolloutId)!)) continue;
        const running = await listTasks(this.api, rolloutId, "RUNNING").catch(() => [] as ApiTask[]);
        for (const t of running) {
          const target = this.pending.get(t.id);
          const run = t.latestRun;
          if (!target || run?.status !== "RUNNING" || !run.replicaId) continue;
          const others = this.replicas.healthy().filter((r) => r.id !== run.replicaId);
          if (others.length === 0) continue;
          const via = others[this.rr++ % others.length]!;
          try {
            const res = await this.api.call<{ results?: { outcome: string }[]; error?: { code: string } }>(
              "POST",
              `/rollouts/${rolloutId}/task-runs/cancel`,
              { taskRunIds: [run.id] },
              via,
            );
            const outcome = res.body?.results?.[0]?.outcome ?? res.body?.error?.code ?? "?";
            this.events.push({
              taskKey: target.key,
              runId: run.id,
              owner: run.replicaId,
              via: via.id,
              at: Date.now(),
              status: res.status,
              outcome,
            });
            if (res.status < 500) this.pending.delete(t.id);
          } catch {
            /* the replica went down under the call: try again next round */
          }
        }
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  stop(): void {
    this.stopped = true;
  }
}
