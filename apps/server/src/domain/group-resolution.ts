import picomatch from "picomatch";

export interface GroupRuleInput {
  pattern: string | null;
  includes: string[];
  excludes: string[];
}

/**
 * Pure: the databases a group names among those known on its instance. The pattern is a glob over the
 * whole name (`tenant_*`, `shop_?`, `tenant_{a,b}`), case-sensitive as PostgreSQL names are; includes are
 * added and excludes removed by exact name. An include the instance does not have is reported as missing
 * rather than planned (a task on it could only fail).
 */
export function resolveGroup(rule: GroupRuleInput, known: readonly string[]): { databases: string[]; missing: string[] } {
  const matches = rule.pattern ? picomatch(rule.pattern, { dot: true, nocase: false }) : () => false;
  const excluded = new Set(rule.excludes);
  const knownSet = new Set(known);
  const chosen = new Set(known.filter((n) => matches(n)));
  for (const n of rule.includes) if (knownSet.has(n)) chosen.add(n);
  const databases = [...chosen].filter((n) => !excluded.has(n)).sort();
  const missing = rule.includes.filter((n) => !knownSet.has(n) && !excluded.has(n));
  return { databases, missing };
}
