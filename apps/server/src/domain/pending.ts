import { versionSortKey } from "@runway/shared";
import { contentChecksums, type ReleaseFile } from "./release-files.js";

/** A row of a target's `runway_ledger` (executors/ledger.ts): what was applied there, and its checksum. */
export interface LedgerRow {
  schemaVersion: string | null;
  checksum: string;
}

export interface DatabasePlan {
  /** Files to apply, in order. */
  pending: ReleaseFile[];
  /** Files whose exact content the ledger already records. */
  applied: string[];
  /** Versioned files whose version the ledger records with other content: flagged, never re-run. */
  changed: string[];
}

/**
 * Pure: which of a release's files a database still needs. A version is applied when the ledger holds it
 * (versions compare as versions: 1.2 is 1_2); with the same checksum it is simply done, with another it
 * is a changed file (someone edited an applied migration) and is left out. An unversioned file is pending
 * until its exact content was applied once; so is a versioned file whose version the ledger lacks but whose
 * text it holds as an unversioned change. Content is compared whatever its line endings: a file checked out
 * on Windows (CRLF) and applied from a Linux CI job (LF) is the same file, as Flyway's checksums see it.
 */
export function planDatabase(files: ReleaseFile[], ledger: LedgerRow[]): DatabasePlan {
  const byVersion = new Map<string, Set<string>>();
  const checksums = new Set<string>();
  const unversioned = new Set<string>();
  for (const row of ledger) {
    checksums.add(row.checksum);
    if (row.schemaVersion === null) {
      unversioned.add(row.checksum);
      continue;
    }
    const key = versionSortKey(row.schemaVersion);
    let set = byVersion.get(key);
    if (!set) byVersion.set(key, (set = new Set()));
    set.add(row.checksum);
  }
  const plan: DatabasePlan = { pending: [], applied: [], changed: [] };
  for (const f of files) {
    const sums = contentSums(f);
    if (f.version === null) {
      if (sums.some((c) => checksums.has(c))) plan.applied.push(f.name);
      else plan.pending.push(f);
      continue;
    }
    const seen = byVersion.get(versionSortKey(f.version));
    // Its very text applied as an unversioned change (a file that once lost its version to its name, such as
    // V1__init.SQL before names were read in any case): applied, never run a second time.
    if (!seen && sums.some((c) => unversioned.has(c))) plan.applied.push(f.name);
    else if (!seen) plan.pending.push(f);
    else if (sums.some((c) => seen.has(c))) plan.applied.push(f.name);
    else plan.changed.push(f.name);
  }
  return plan;
}

/** Per file, once for all the databases of a plan (contentChecksums). */
const sumsOf = new WeakMap<ReleaseFile, string[]>();
function contentSums(f: ReleaseFile): string[] {
  let sums = sumsOf.get(f);
  if (!sums) sumsOf.set(f, (sums = contentChecksums(f.statement)));
  return sums;
}
