import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { UsageError } from "./client.js";

/** Every file under `dir` (recursively), with its path relative to it; the server decides which are SQL. */
export async function readFolder(dir: string): Promise<{ name: string; content: string }[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile() && e.name.toLowerCase().endsWith(".sql"));
  const out = await Promise.all(
    files.map(async (e) => {
      const full = path.join(e.parentPath, e.name);
      return { name: path.relative(dir, full), content: await readFile(full, "utf8") };
    }),
  );
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Whether `p` is a folder (else a file); a path that is neither is the caller's mistake (exit 2), said plainly. */
export async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new UsageError(`${p}: no such folder or file`);
    throw e;
  }
}
