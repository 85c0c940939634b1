import type pg from "pg";

/** Waiting causes of the runs still PENDING (the run_wait view: a run's own cause, else its stage's), for the no-stuck-run report: run id → "TYPE {cause}". */
export async function readWaits(control: pg.Pool): Promise<Map<string, string>> {
  const { rows } = await control.query<{ run_id: string; type: string; cause: unknown }>(`SELECT run_id, type, cause FROM run_wait`);
  return new Map(rows.map((r) => [r.run_id, `${r.type} ${JSON.stringify(r.cause)}`]));
}
