import { TaskType } from "@runway/shared";

/**
 * Statements PostgreSQL refuses inside a transaction block. They run outside one, so a crash can leave
 * them half done and recovery never re-runs them.
 */
const NON_TRANSACTIONAL = [
  /\bCREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\b/i,
  /\bDROP\s+INDEX\s+CONCURRENTLY\b/i,
  /\bREINDEX\b[^;]*\bCONCURRENTLY\b/i,
  /\bDETACH\s+PARTITION\b[^;]*\bCONCURRENTLY\b/i,
  /^\s*VACUUM\b/im,
  /\bCREATE\s+DATABASE\b/i,
  /\bDROP\s+DATABASE\b/i,
  /\bALTER\s+SYSTEM\b/i,
  /\bCREATE\s+TABLESPACE\b/i,
];

export function runsOutsideTransaction(type: TaskType, statement: string): boolean {
  if (type === TaskType.DATABASE_CREATE) return true;
  return NON_TRANSACTIONAL.some((re) => re.test(statement));
}

/** Recovery may re-run a run whose owner died only when re-running cannot apply anything twice. */
export function isRerunnable(type: TaskType, statement: string): boolean {
  // DATABASE_CREATE checks for the database first, so it is idempotent even outside a transaction.
  if (type === TaskType.DATABASE_CREATE) return true;
  return !runsOutsideTransaction(type, statement);
}
