import { UsageError } from "./client.js";

export type StageTarget = { group: string } | { instanceId: string; database: string };
export interface StageSpec {
  environment: string;
  targets: StageTarget[];
}

/**
 * `--stage staging=tenants-staging` (a database group), `--stage prod=pg-main/orders` (one database on an
 * instance), several targets comma-separated: `--stage prod=tenants,pg-main/orders`. Repeated flags
 * for one environment add to that stage; stages keep the order they were first named in.
 */
export function parseStages(specs: string[]): StageSpec[] {
  const stages: StageSpec[] = [];
  if (specs.length === 0) throw new UsageError("name at least one --stage ENV=GROUP");
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    if (eq <= 0 || eq === spec.length - 1)
      throw new UsageError(`--stage ${spec}: expected ENVIRONMENT=GROUP or ENVIRONMENT=INSTANCE/DATABASE`);
    const environment = spec.slice(0, eq);
    let stage = stages.find((s) => s.environment === environment);
    if (!stage) stages.push((stage = { environment, targets: [] }));
    for (const raw of spec.slice(eq + 1).split(",")) {
      const t = raw.trim();
      if (!t) continue;
      const slash = t.indexOf("/");
      stage.targets.push(slash > 0 ? { instanceId: t.slice(0, slash), database: t.slice(slash + 1) } : { group: t });
    }
  }
  return stages;
}
