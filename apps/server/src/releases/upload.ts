import { MAX_RELEASE_BYTES, MAX_RELEASE_FILES } from "@runway/shared/schemas";
import type { FileInput } from "../domain/release-files.js";
import { ReleaseFileError, ReleaseFileProblem } from "../domain/release-files.js";

/** Strict UTF-8: a release file that is not text is refused, never stored with replacement characters. */
const utf8 = new TextDecoder("utf-8", { fatal: true });

export function decodeText(name: string, bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new ReleaseFileError(`${name} is not UTF-8 text`, name, ReleaseFileProblem.NOT_TEXT);
  }
}

const isZip = (b: Uint8Array) => b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;

/**
 * The files of a zip archive (folders flattened: only names count). Sizes are bounded before anything
 * is inflated, by what each entry declares, and again after: a zip bomb is refused, not unpacked.
 */
export async function filesFromZip(zip: Uint8Array): Promise<FileInput[]> {
  if (!isZip(zip)) throw new ReleaseFileError("the upload is not a zip archive");
  // Loaded on the first archive: fflate builds its inflate tables when it loads (~10 ms of every start, issue 20).
  const { unzipSync } = await import("fflate");
  let declared = 0;
  let count = 0;
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(zip, {
      filter: (f) => {
        // Directories and macOS resource forks are not files of the release.
        if (f.name.endsWith("/") || f.name.startsWith("__MACOSX/")) return false;
        declared += f.originalSize;
        count++;
        if (declared > MAX_RELEASE_BYTES) throw new ReleaseFileError(`the archive holds more than ${MAX_RELEASE_BYTES} bytes`);
        if (count > MAX_RELEASE_FILES) throw new ReleaseFileError(`the archive holds more than ${MAX_RELEASE_FILES} files`);
        return true;
      },
    });
  } catch (e) {
    if (e instanceof ReleaseFileError) throw e;
    throw new ReleaseFileError(`the zip archive cannot be read: ${(e as Error).message}`);
  }
  const total = Object.values(entries).reduce((n, b) => n + b.length, 0);
  if (total > MAX_RELEASE_BYTES) throw new ReleaseFileError(`the archive holds more than ${MAX_RELEASE_BYTES} bytes`);
  return Object.entries(entries).map(([name, bytes]) => ({ name, content: decodeText(name, bytes) }));
}

/** Whether bytes uploaded as one file are an archive to unpack. */
export const looksLikeZip = (name: string, bytes: Uint8Array): boolean => name.toLowerCase().endsWith(".zip") || isZip(bytes);
