import { createHash } from "node:crypto";
import {
  FLYWAY_ONLY_FILE,
  REPEATABLE_FILE,
  SCHEMA_VERSION_PATTERN,
  TaskType,
  VERSIONED_FILE,
  compareVersions,
  fileBaseName,
} from "@runway/shared";
import { planStatementsYielding, type TaskStatementProblem } from "./statements.js";

/**
 * Release files, as Flyway names them: `V<version>__<description>.sql` is a versioned change (version
 * parts separated by "_" or "."); `R__<description>.sql` or any other `*.sql` is an unversioned change,
 * applied once per distinct content. Pure: no I/O.
 */

export interface FileInput {
  /** Path as uploaded; only its last segment counts. */
  name: string;
  content: string;
  /** Overrides the header comment: the task type of this file. */
  type?: TaskType;
}

export interface ReleaseFile {
  name: string;
  version: string | null;
  description: string;
  type: TaskType;
  /** Applied as is: the target ledger's checksum is the SHA-256 of exactly this text. */
  statement: string;
  sha256: string;
}

/**
 * Why a file (or the whole upload) is refused, a stable code beside the English message, so that a client
 * can say it in its user's language: `other` names the file it clashes with, `version` a version refused.
 */
export const ReleaseFileProblem = {
  EMPTY: "EMPTY",
  DUPLICATE_NAME: "DUPLICATE_NAME",
  DUPLICATE_VERSION: "DUPLICATE_VERSION",
  BAD_VERSION: "BAD_VERSION",
  NOT_TEXT: "NOT_TEXT",
  BAD_TYPE: "BAD_TYPE",
  CREATES_DATABASE: "CREATES_DATABASE",
  /** The upload itself: not a zip, unreadable, too large, too many files. */
  ARCHIVE: "ARCHIVE",
} as const;
export type ReleaseFileProblem = (typeof ReleaseFileProblem)[keyof typeof ReleaseFileProblem];

export class ReleaseFileError extends Error {
  constructor(
    message: string,
    readonly file?: string,
    readonly problem: ReleaseFileProblem = ReleaseFileProblem.ARCHIVE,
    readonly extra: { other?: string; version?: string } = {},
  ) {
    super(message);
    this.name = "ReleaseFileError";
  }
}

/** `-- runway:type=data` (or `schema`, `sdl`) in the comment lines that open a file. */
const HEADER_TYPE = /^--\s*runway:\s*(?:type\s*=\s*)?([a-z_]+)\s*$/i;

const TYPE_WORDS: Record<string, TaskType> = {
  schema: TaskType.DATABASE_SCHEMA_UPDATE,
  data: TaskType.DATABASE_DATA_UPDATE,
  sdl: TaskType.DATABASE_SDL,
  database_schema_update: TaskType.DATABASE_SCHEMA_UPDATE,
  database_data_update: TaskType.DATABASE_DATA_UPDATE,
  database_sdl: TaskType.DATABASE_SDL,
};

export const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/**
 * The checksums one file's content may have in a target's ledger: of its exact text, and of that text with
 * LF and with CRLF line ends. A file checked out on Windows (CRLF) and applied from a Linux CI job (LF) is the
 * same file, as Flyway's checksums see it; the ledger records the exact text's, so all are compared.
 */
export function contentChecksums(text: string): string[] {
  const lf = text.replace(/\r\n/g, "\n");
  if (!lf.includes("\n")) return [sha256(text)];
  return [...new Set([sha256(text), sha256(lf), sha256(lf.replace(/\n/g, "\r\n"))])];
}

/** What a file name says: null for a file that is not a change (a README, a Flyway undo, baseline or callback script). */
export function parseFileName(path: string): { version: string | null; description: string } | null {
  const name = fileBaseName(path);
  if (FLYWAY_ONLY_FILE.test(name)) return null;
  const v = VERSIONED_FILE.exec(name);
  if (v) {
    // Flyway writes V1_2 for 1.2; the dotted form is what people read.
    const version = v[1]!.replace(/_/g, ".");
    if (!SCHEMA_VERSION_PATTERN.test(version))
      throw new ReleaseFileError(`${name}: version "${version}" is not a valid version`, name, ReleaseFileProblem.BAD_VERSION, { version });
    return { version, description: v[2]!.replace(/_/g, " ") };
  }
  const r = REPEATABLE_FILE.exec(name);
  if (r) return { version: null, description: r[1]!.replace(/_/g, " ") };
  if (name.toLowerCase().endsWith(".sql") && name.length > 4) return { version: null, description: name.slice(0, -4).replace(/_/g, " ") };
  return null;
}

/** The type a file's opening comments declare, if any. */
export function headerType(content: string): TaskType | null {
  for (const raw of content.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    if (!line.startsWith("--")) return null;
    const m = HEADER_TYPE.exec(line);
    if (m) {
      const t = TYPE_WORDS[m[1]!.toLowerCase()];
      if (!t) throw new ReleaseFileError(`unknown runway:type "${m[1]}" (schema, data or sdl)`, undefined, ReleaseFileProblem.BAD_TYPE);
      return t;
    }
  }
  return null;
}

/** Versioned files by version, then unversioned ones by name (as Flyway applies repeatables last). */
export function compareFiles(a: ReleaseFile, b: ReleaseFile): number {
  if (a.version !== null && b.version !== null) return compareVersions(a.version, b.version);
  if (a.version !== null || b.version !== null) return a.version !== null ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Parses an upload into release files: non-SQL files are left out (returned as `ignored`), a leading
 * byte-order mark is dropped; a blank file, two files with one name or two with one version refuse the
 * whole release.
 */
export function parseReleaseFiles(inputs: FileInput[]): { files: ReleaseFile[]; ignored: string[] } {
  const files: ReleaseFile[] = [];
  const ignored: string[] = [];
  const names = new Set<string>();
  const versions = new Map<string, string>();
  for (const raw of inputs) {
    // A byte-order mark is how some editors start a UTF-8 file, not SQL (PostgreSQL would refuse it). A browser's
    // and the upload's decoding drop it; a JSON body (the CLI's) keeps it. Dropped here, one file hashes alike
    // whichever way it came.
    const input = raw.content.startsWith("\uFEFF") ? { ...raw, content: raw.content.slice(1) } : raw;
    const name = fileBaseName(input.name);
    const parsed = parseFileName(name);
    if (!parsed) {
      ignored.push(input.name);
      continue;
    }
    if (names.has(name)) throw new ReleaseFileError(`two files are named ${name}`, name, ReleaseFileProblem.DUPLICATE_NAME);
    names.add(name);
    if (input.content.trim() === "") throw new ReleaseFileError(`${name} is empty`, name, ReleaseFileProblem.EMPTY);
    if (input.content.includes("\u0000"))
      throw new ReleaseFileError(`${name} contains a NUL byte (not text)`, name, ReleaseFileProblem.NOT_TEXT);
    if (parsed.version !== null) {
      const other = [...versions].find(([v]) => compareVersions(v, parsed.version!) === 0);
      if (other)
        throw new ReleaseFileError(
          `${name} and ${other[1]} have the same version ${parsed.version}`,
          name,
          ReleaseFileProblem.DUPLICATE_VERSION,
          {
            other: other[1],
            version: parsed.version,
          },
        );
      versions.set(parsed.version, name);
    }
    let type: TaskType;
    try {
      type = input.type ?? headerType(input.content) ?? TaskType.DATABASE_SCHEMA_UPDATE;
    } catch (e) {
      throw new ReleaseFileError(`${name}: ${(e as Error).message}`, name, ReleaseFileProblem.BAD_TYPE);
    }
    if (type === TaskType.DATABASE_CREATE)
      throw new ReleaseFileError(`${name}: a release file cannot create a database`, name, ReleaseFileProblem.CREATES_DATABASE);
    files.push({ name, ...parsed, type, statement: input.content, sha256: sha256(input.content) });
  }
  return { files: files.sort(compareFiles), ignored };
}

/** The release's identity: SHA-256 over every file's name, type and content hash, in name order. */
export function releaseHash(files: Pick<ReleaseFile, "name" | "type" | "sha256">[]): string {
  const lines = [...files]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((f) => `${f.name}\0${f.type}\0${f.sha256}\n`);
  return sha256(lines.join(""));
}

/** A release file PostgreSQL's parser or Runway's statement rules refuse (domain/statements.ts). */
export interface ReleaseFileRefusal {
  file: string;
  problem: TaskStatementProblem;
  message: string;
  statement?: string;
  position?: number;
}

/**
 * Every file's refusal, checked when the release is uploaded: a release never changes, so a file that
 * could never become a task (a syntax error, transaction control, nothing to run) is said at once, by its
 * name, instead of as a task path when a rollout is made from it.
 */
export async function releaseFileRefusals(files: readonly ReleaseFile[]): Promise<ReleaseFileRefusal[]> {
  const results = await planStatementsYielding(files);
  return files.flatMap((f, i) => {
    const r = results[i]!;
    return "refusal" in r ? [{ file: f.name, ...r.refusal, message: `${f.name}: ${r.refusal.message}` }] : [];
  });
}
