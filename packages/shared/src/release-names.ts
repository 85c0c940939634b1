/**
 * Release file names, as Flyway writes them, read alike by the server (which decides) and the dashboard
 * (which labels what was picked), so the two cannot drift. Each pattern reads a base name (no folder).
 * The extension counts in any case (Windows tools write V1__init.SQL); the prefix is Flyway's upper case.
 */

/** `V<version>__<description>.sql`: a versioned change; version parts separated by "_" or ".". */
export const VERSIONED_FILE = /^V([0-9A-Za-z][0-9A-Za-z._]*?)__(.+)\.[sS][qQ][lL]$/;
/** `R__<description>.sql`: an unversioned change, applied once per distinct content. */
export const REPEATABLE_FILE = /^R__(.+)\.[sS][qQ][lL]$/;
/** The events a Flyway SQL callback is named after (`afterMigrate.sql`, `beforeEachMigrate__grants.sql`). */
const CALLBACK_EVENTS = [
  "Migrate",
  "MigrateApplied",
  "MigrateError",
  "Repeatables",
  "Versioned",
  "EachMigrate",
  "EachMigrateError",
  "EachMigrateStatement",
  "EachMigrateStatementError",
  "Undo",
  "UndoError",
  "EachUndo",
  "EachUndoError",
  "EachUndoStatement",
  "EachUndoStatementError",
  "Clean",
  "CleanError",
  "Info",
  "InfoError",
  "Validate",
  "ValidateError",
  "Baseline",
  "BaselineError",
  "Repair",
  "RepairError",
  "Connect",
].join("|");

/**
 * Files a Flyway folder holds that are not forward changes, left out as a README is:
 * - undo (U<version>__) and baseline (B<version>__) scripts: an undo reverses its version, a baseline
 *   re-creates a schema from nothing; run as changes they would drop or re-create what is there;
 * - SQL callbacks (`beforeMigrate.sql`, `afterEachMigrate__grants.sql`, `createSchema.sql`, …): Flyway runs them
 *   around every command it runs; run once as a change, `afterMigrate` grants would reach only the tables of
 *   the first release, and `beforeMigrate` would run after the versions, as unversioned changes do.
 */
export const FLYWAY_ONLY_FILE = new RegExp(
  `^(?:[UB][0-9][0-9._]*__.+|(?:(?:before|after)(?:${CALLBACK_EVENTS})|createSchema)(?:__.+)?)\\.[sS][qQ][lL]$`,
);

/** A path's last segment, "/" or "\" separated: only names count in a release. */
export const fileBaseName = (path: string): string => path.split(/[\\/]/).pop() ?? path;
