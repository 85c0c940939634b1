import { unzipSync } from "fflate";
import { FLYWAY_ONLY_FILE, VERSIONED_FILE, fileBaseName } from "@runway/shared";

/**
 * Turns what was dropped or picked (files, folders, zip archives) into release files: name and text.
 * Only `.sql` files are kept; the server reads versions from their names. Zips are unpacked here, so
 * every upload reaches the server as the same JSON body.
 */
export interface PickedFile {
  name: string;
  content: string;
}

const decoder = new TextDecoder("utf-8");
const isSql = (name: string) => name.toLowerCase().endsWith(".sql");

export async function filesFrom(list: Iterable<File>): Promise<PickedFile[]> {
  const out: PickedFile[] = [];
  for (const f of list) {
    const path = (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
    if (f.name.toLowerCase().endsWith(".zip")) {
      const entries = unzipSync(new Uint8Array(await f.arrayBuffer()), { filter: (e) => isSql(e.name) && !e.name.startsWith("__MACOSX/") });
      for (const [name, bytes] of Object.entries(entries)) out.push({ name, content: decoder.decode(bytes) });
    } else if (isSql(f.name)) out.push({ name: path, content: await f.text() });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Every file under dropped folders (DataTransfer entries), recursively. */
export async function filesFromDrop(items: DataTransferItemList): Promise<File[]> {
  const files: File[] = [];
  const walk = async (entry: FileSystemEntry): Promise<void> => {
    if (entry.isFile) {
      files.push(await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject)));
      return;
    }
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    // readEntries returns at most ~100 entries per call: read until it returns none.
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
      if (batch.length === 0) break;
      for (const e of batch) await walk(e);
    }
  };
  const entries = [...items].map((i) => i.webkitGetAsEntry()).filter((e): e is FileSystemEntry => e !== null);
  for (const e of entries) await walk(e);
  return files;
}

/** Flyway-style label for a file: its version, or "repeatable". Display only; the server decides. */
export function versionOf(name: string): string | null {
  const m = VERSIONED_FILE.exec(fileBaseName(name));
  return m ? m[1]!.replace(/_/g, ".") : null;
}

/** Flyway's undo (U<version>__) and baseline (B<version>__) scripts, which the server leaves out. Display only. */
export const flywayOnly = (name: string): boolean => FLYWAY_ONLY_FILE.test(fileBaseName(name));
