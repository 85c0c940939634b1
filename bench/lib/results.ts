import path from "node:path";
import { promises as fs } from "node:fs";

export const RESULTS_DIR = path.join(path.dirname(new URL(import.meta.url).pathname), "..", "results");

/** A result file written by writeResult (bench/results/<name>.json), or undefined when absent. */
export async function readResult<T>(name: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(RESULTS_DIR, `${name}.json`), "utf8")) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
