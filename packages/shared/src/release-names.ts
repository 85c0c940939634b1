/**
 * Release file names, as Flyway writes them, read alike by the server (which decides) and the dashboard
 * (which labels what was picked), so the two cannot drift. Each pattern reads a base name (no folder).
 * The extension counts in any case (Windows tools write V1__init.SQL); the prefix is Flyway's upper case.
 */

/** `V<version>__<description>.sql`: a versioned change; version parts separated by "_" or ".". */
export const VERSIONED_FILE = /^V([0-9A-Za-z][0-9A-Za-z._]*?)__(.+)\.[sS][qQ][lL]$/;
/** `R__<description>.sql`: an unversioned change, applied once per distinct content. */
export const REPEATABLE_FILE = /^R__(.+)\.[sS][qQ][lL]$/;
/**
 * Flyway's undo (U<version>__) and baseline (B<version>__) scripts: an undo reverses its version, a baseline
 * re-creates a schema from nothing. Neither is a forward change, and run as one they would drop or re-create
 * what is there; a folder kept for Flyway holds them, so they are left out, as a README is.
 */
export const FLYWAY_ONLY_FILE = /^[UB][0-9][0-9._]*__.+\.[sS][qQ][lL]$/;

/** A path's last segment, "/" or "\" separated: only names count in a release. */
export const fileBaseName = (path: string): string => path.split(/[\\/]/).pop() ?? path;
