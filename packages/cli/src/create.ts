import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Release, ReleasePlan, ReleaseRolloutCreated } from "@runway/shared/schemas";
import { ApiError, type Client } from "./client.js";
import { isDirectory, readFolder } from "./files.js";
import type { Output } from "./output.js";
import type { StageSpec } from "./stages.js";

export interface CreateOptions {
  project: string;
  stages: StageSpec[];
  source: string;
  title?: string;
  previewOnly?: boolean;
}

/** Uploads the folder (files in a JSON body) or zip as a release; the same files again are the same release. */
async function upload(client: Client, o: CreateOptions, title: string): Promise<Release> {
  const base = `/projects/${encodeURIComponent(o.project)}/releases`;
  if (await isDirectory(o.source)) {
    const files = await readFolder(o.source);
    if (files.length === 0) throw new ApiError(0, "NO_FILES", `no .sql files under ${o.source}`);
    return (await client.post<Release>(base, { title, files })).body;
  }
  const res = await fetch(`${client.base}${base}/upload?title=${encodeURIComponent(title)}`, {
    method: "POST",
    headers: client.headers({ "content-type": "application/zip" }),
    body: await readFile(o.source),
    signal: AbortSignal.timeout(120_000),
  });
  const json = (await res.json().catch(() => ({}))) as Release & { error?: { code: string; message: string; details?: unknown } };
  if (!res.ok)
    throw new ApiError(res.status, json.error?.code ?? `HTTP_${res.status}`, json.error?.message ?? res.statusText, json.error?.details);
  return json;
}

const summary = (plan: ReleasePlan) =>
  plan.stages
    .map((s) => {
      const changed = s.databases.reduce((n, d) => n + d.changed.length, 0);
      return (
        `  ${s.environment}: ${s.databases.length} database(s), ${s.tasks} task(s)` +
        (changed ? `, ${changed} changed file(s) left out` : "")
      );
    })
    .join("\n");

/** `runway rollout create`: upload, preview, create. Exit 0 also when nothing is pending (CI re-runs). */
export async function createRollout(client: Client, o: CreateOptions, out: Output): Promise<number> {
  const title = o.title ?? `${path.basename(path.resolve(o.source))} ${new Date().toISOString().slice(0, 16)}`;
  const release = await upload(client, o, title);
  out.info(`release ${release.id}: ${release.fileCount} file(s), sha256 ${release.contentHash.slice(0, 12)}…`);
  // Flyway's undo, baseline and callback scripts, and names that are no change: said, so that none goes missing unnoticed.
  if (release.ignored?.length) out.info(`left out (not changes): ${release.ignored.join(", ")}`);
  const rel = `/projects/${encodeURIComponent(o.project)}/releases/${release.id}`;
  const plan = (await client.post<ReleasePlan>(`${rel}/preview`, { stages: o.stages })).body;
  out.info(`plan:\n${summary(plan)}`);
  for (const s of plan.stages) {
    if (s.databases.length === 0)
      out.info(
        `  ! ${s.environment}: names no database${s.groups.length ? ` (${s.groups.map((g) => g.name).join(", ")} match none)` : ""}`,
      );
    for (const d of s.databases) {
      if (d.changed.length) out.info(`  ! ${d.instanceId}/${d.database}: applied with other content, not re-run: ${d.changed.join(", ")}`);
      if (d.error) out.info(`  ! ${d.instanceId}/${d.database}: ledger unreadable: ${d.error}`);
    }
  }
  if (o.previewOnly) {
    out.result({ release, plan }, "");
    return 0;
  }
  try {
    const created = (await client.post<ReleaseRolloutCreated>(`${rel}/rollouts`, { title: o.title ?? release.title, stages: o.stages }))
      .body;
    out.info(`created rollout ${created.rollout.id} with ${created.totals.tasks} task(s)`);
    out.result({ release, rollout: created.rollout, totals: created.totals }, created.rollout.id);
    return 0;
  } catch (e) {
    if (e instanceof ApiError && (e.details as { reason?: string } | undefined)?.reason === "NOTHING_PENDING") {
      out.info("nothing pending: every target already has every file");
      out.result({ release, rollout: null, plan }, "");
      return 0;
    }
    throw e;
  }
}
