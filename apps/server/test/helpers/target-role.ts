import { inject } from "vitest";

/**
 * The test server's superuser URL becomes the non-superuser target role's (global-setup.ts): instances never
 * connect as the superuser. Standalone (no db.ts import) because chaos repro scripts load fixtures.ts too.
 */
export function asTargetRole(url: string): string {
  const get = inject as unknown as (key: string) => string;
  return url === get("pgUrl") ? get("pgTargetUrl") : url;
}
