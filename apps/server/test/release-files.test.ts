import { describe, expect, it } from "vitest";
import { TaskType } from "@runway/shared";
import { headerType, parseFileName, parseReleaseFiles, releaseHash, sha256, type ReleaseFileError } from "../src/domain/release-files.js";
import { resolveGroup } from "../src/domain/group-resolution.js";
import { planDatabase } from "../src/domain/pending.js";

describe("release file names (Flyway style)", () => {
  it("reads versions and descriptions", () => {
    expect(parseFileName("V0001__create_orders.sql")).toEqual({ version: "0001", description: "create orders" });
    expect(parseFileName("migrations/sub/V1_2__add_x.sql")).toEqual({ version: "1.2", description: "add x" });
    expect(parseFileName("V2.10.1__big.sql")).toEqual({ version: "2.10.1", description: "big" });
    expect(parseFileName("R__refresh_views.sql")).toEqual({ version: null, description: "refresh views" });
    expect(parseFileName("seed_data.sql")).toEqual({ version: null, description: "seed data" });
    expect(parseFileName("README.md")).toBeNull();
    expect(parseFileName("V1__x.txt")).toBeNull();
    // The extension in any case keeps the version (a Windows tool's V1__init.SQL); the prefix is Flyway's upper case.
    expect(parseFileName("V3__init.SQL")).toEqual({ version: "3", description: "init" });
    expect(parseFileName("R__views.Sql")).toEqual({ version: null, description: "views" });
    expect(parseFileName("v4__lower.sql")?.version).toBeNull();
    // Flyway's undo and baseline scripts are not forward changes: left out, as a README is.
    expect(parseFileName("U3__undo_init.sql")).toBeNull();
    expect(parseFileName("B5_1__baseline.sql")).toBeNull();
    // So are its SQL callbacks, which Flyway runs around every command, by event name with or without a description.
    for (const name of ["afterMigrate.sql", "beforeMigrate.sql", "afterEachMigrate__grants.sql", "createSchema.SQL", "afterCleanError.sql"])
      expect(parseFileName(name), name).toBeNull();
    // Names that only begin like one are changes.
    expect(parseFileName("afterthought.sql")).toEqual({ version: null, description: "afterthought" });
    expect(parseFileName("beforeMigrateX.sql")).toEqual({ version: null, description: "beforeMigrateX" });
    expect(parseFileName("R__afterMigrate.sql")).toEqual({ version: null, description: "afterMigrate" });
    expect(parseFileName("Users__add_users.sql")).toEqual({ version: null, description: "Users  add users" });
  });

  it("takes the type from the header comment, or the request", () => {
    expect(headerType("-- runway:type=data\nUPDATE t SET x = 1")).toBe(TaskType.DATABASE_DATA_UPDATE);
    expect(headerType("-- backfill\n-- runway: data\nUPDATE t SET x = 1")).toBe(TaskType.DATABASE_DATA_UPDATE);
    expect(headerType("CREATE TABLE t (id int);\n-- runway:type=data")).toBeNull();
    expect(() => headerType("-- runway:type=nonsense\nSELECT 1")).toThrow(/unknown runway:type/);
    const { files } = parseReleaseFiles([
      { name: "R__a.sql", content: "-- runway:type=data\nUPDATE t SET x = 1" },
      { name: "b.sql", content: "UPDATE t SET x = 2", type: TaskType.DATABASE_DATA_UPDATE },
      { name: "V1__c.sql", content: "CREATE TABLE c ()" },
    ]);
    expect(files.map((f) => [f.name, f.type])).toEqual([
      ["V1__c.sql", TaskType.DATABASE_SCHEMA_UPDATE],
      ["R__a.sql", TaskType.DATABASE_DATA_UPDATE],
      ["b.sql", TaskType.DATABASE_DATA_UPDATE],
    ]);
  });

  it("orders versioned files by version, unversioned after them, and leaves non-SQL files out", () => {
    const { files, ignored } = parseReleaseFiles([
      { name: "V10__j.sql", content: "SELECT 10" },
      { name: "V2__b.sql", content: "SELECT 2" },
      { name: "notes.txt", content: "hi" },
      { name: "R__z.sql", content: "SELECT 'z'" },
      { name: "V1_5__a.sql", content: "SELECT 1.5" },
      { name: "flyway/U2__b.sql", content: "DROP TABLE b" },
    ]);
    expect(files.map((f) => f.name)).toEqual(["V1_5__a.sql", "V2__b.sql", "V10__j.sql", "R__z.sql"]);
    expect(ignored).toEqual(["notes.txt", "flyway/U2__b.sql"]);
  });

  it("refuses duplicate versions, duplicate names and empty files", () => {
    expect(() =>
      parseReleaseFiles([
        { name: "V1__a.sql", content: "SELECT 1" },
        { name: "V1.0__b.sql", content: "SELECT 2" },
      ]),
    ).not.toThrow();
    expect(() =>
      parseReleaseFiles([
        { name: "V1__a.sql", content: "SELECT 1" },
        { name: "V001__b.sql", content: "SELECT 2" },
      ]),
    ).toThrow(/same version/);
    expect(() =>
      parseReleaseFiles([
        { name: "a/V1__a.sql", content: "SELECT 1" },
        { name: "b/V1__a.sql", content: "SELECT 1" },
      ]),
    ).toThrow(/two files/);
    expect(() => parseReleaseFiles([{ name: "V1__a.sql", content: " \n" }])).toThrow(/empty/);
  });

  it("drops a leading byte-order mark (some editors write one; PostgreSQL refuses it), so the file hashes as without it", () => {
    const [withBom] = parseReleaseFiles([{ name: "V1__a.sql", content: "\uFEFFCREATE TABLE a (id int)" }]).files;
    const [without] = parseReleaseFiles([{ name: "V1__a.sql", content: "CREATE TABLE a (id int)" }]).files;
    expect(withBom).toEqual(without);
    expect(() => parseReleaseFiles([{ name: "V1__a.sql", content: "\uFEFF \n" }])).toThrow(/empty/);
  });

  it("each refusal carries a stable problem code (and the file it clashes with) for a client to say in its language", () => {
    const refusal = (inputs: Parameters<typeof parseReleaseFiles>[0]) => {
      try {
        parseReleaseFiles(inputs);
      } catch (e) {
        const r = e as ReleaseFileError;
        return { file: r.file, problem: r.problem, ...r.extra };
      }
      return null;
    };
    expect(refusal([{ name: "V1__a.sql", content: "" }])).toEqual({ file: "V1__a.sql", problem: "EMPTY" });
    expect(refusal([{ name: "V1__a.sql", content: "SELECT 1\u0000" }])).toEqual({ file: "V1__a.sql", problem: "NOT_TEXT" });
    expect(
      refusal([
        { name: "x/V1__a.sql", content: "SELECT 1" },
        { name: "y/V1__a.sql", content: "SELECT 2" },
      ]),
    ).toEqual({ file: "V1__a.sql", problem: "DUPLICATE_NAME" });
    expect(
      refusal([
        { name: "V1__a.sql", content: "SELECT 1" },
        { name: "V01__b.sql", content: "SELECT 2" },
      ]),
    ).toEqual({ file: "V01__b.sql", problem: "DUPLICATE_VERSION", other: "V1__a.sql", version: "01" });
    const long = "1".repeat(101);
    expect(refusal([{ name: `V${long}__a.sql`, content: "SELECT 1" }])).toEqual({
      file: `V${long}__a.sql`,
      problem: "BAD_VERSION",
      version: long,
    });
    expect(refusal([{ name: "V1__a.sql", content: "-- runway:type=nosuch\nSELECT 1" }])).toEqual({
      file: "V1__a.sql",
      problem: "BAD_TYPE",
    });
    expect(refusal([{ name: "V1__a.sql", content: "SELECT 1", type: TaskType.DATABASE_CREATE }])).toEqual({
      file: "V1__a.sql",
      problem: "CREATES_DATABASE",
    });
  });

  it("hashes content: any change to a name, type or byte changes the release hash; order does not", () => {
    const a = parseReleaseFiles([
      { name: "V1__a.sql", content: "SELECT 1" },
      { name: "V2__b.sql", content: "SELECT 2" },
    ]).files;
    const b = parseReleaseFiles([
      { name: "V2__b.sql", content: "SELECT 2" },
      { name: "V1__a.sql", content: "SELECT 1" },
    ]).files;
    const c = parseReleaseFiles([
      { name: "V1__a.sql", content: "SELECT 1 " },
      { name: "V2__b.sql", content: "SELECT 2" },
    ]).files;
    expect(releaseHash(a)).toBe(releaseHash(b));
    expect(releaseHash(a)).not.toBe(releaseHash(c));
    expect(a[0]!.sha256).toBe(sha256("SELECT 1"));
  });
});

describe("group resolution", () => {
  const known = ["tenant_a", "tenant_b", "tenant_demo", "shop", "Tenant_c", "tenant_x1"];
  it("matches the glob over whole names, adds includes, removes excludes", () => {
    expect(resolveGroup({ pattern: "tenant_*", includes: ["shop", "gone"], excludes: ["tenant_demo"] }, known)).toEqual({
      databases: ["shop", "tenant_a", "tenant_b", "tenant_x1"],
      missing: ["gone"],
    });
    expect(resolveGroup({ pattern: "tenant_?", includes: [], excludes: [] }, known).databases).toEqual(["tenant_a", "tenant_b"]);
    expect(resolveGroup({ pattern: "tenant_{a,x1}", includes: [], excludes: [] }, known).databases).toEqual(["tenant_a", "tenant_x1"]);
    expect(resolveGroup({ pattern: null, includes: ["shop"], excludes: [] }, known).databases).toEqual(["shop"]);
    expect(resolveGroup({ pattern: "tenant", includes: [], excludes: [] }, known).databases).toEqual([]);
  });
});

describe("pending versions (pure)", () => {
  const { files } = parseReleaseFiles([
    { name: "V1__a.sql", content: "SELECT 1" },
    { name: "V1_1__b.sql", content: "SELECT 11" },
    { name: "V2__c.sql", content: "SELECT 2" },
    { name: "R__d.sql", content: "SELECT 'd'" },
  ]);
  it("plans what the ledger lacks and flags a version applied with other content", () => {
    const plan = planDatabase(files, [
      { schemaVersion: "1", checksum: sha256("SELECT 1") },
      { schemaVersion: "1_1", checksum: sha256("SELECT 11 -- edited later") },
      { schemaVersion: null, checksum: sha256("SELECT 'd'") },
    ]);
    expect(plan.pending.map((f) => f.name)).toEqual(["V2__c.sql"]);
    expect(plan.applied).toEqual(["V1__a.sql", "R__d.sql"]);
    expect(plan.changed).toEqual(["V1_1__b.sql"]);
  });
  it("line ends do not make a file another: applied from a CRLF checkout, the LF file is applied (and the other way round)", () => {
    const text = "CREATE TABLE t (id int);\nCREATE INDEX t_i ON t (id);\n";
    const windows = text.replace(/\n/g, "\r\n");
    const lf = parseReleaseFiles([
      { name: "V1__t.sql", content: text },
      { name: "R__v.sql", content: text + "-- view" },
      { name: "V2__edited.sql", content: text },
    ]).files;
    const ledger = [
      { schemaVersion: "1", checksum: sha256(windows) },
      { schemaVersion: null, checksum: sha256(windows + "-- view") },
      { schemaVersion: "2", checksum: sha256(windows.replace("id", "key")) },
    ];
    expect(planDatabase(lf, ledger)).toMatchObject({ pending: [], applied: ["V1__t.sql", "R__v.sql"], changed: ["V2__edited.sql"] });
    const crlf = parseReleaseFiles([{ name: "V1__t.sql", content: windows }]).files;
    expect(planDatabase(crlf, [{ schemaVersion: "1", checksum: sha256(text) }]).applied).toEqual(["V1__t.sql"]);
  });
  it("a versioned file whose text was applied as an unversioned change (V1__init.SQL once read without its version) is applied", () => {
    const [v] = parseReleaseFiles([{ name: "V1__init.SQL", content: "CREATE TABLE init (id int)" }]).files;
    expect(planDatabase([v!], [{ schemaVersion: null, checksum: sha256("CREATE TABLE init (id int)") }])).toMatchObject({
      pending: [],
      applied: ["V1__init.SQL"],
    });
    expect(planDatabase([v!], [{ schemaVersion: null, checksum: sha256("CREATE TABLE other (id int)") }]).pending).toHaveLength(1);
  });
  it("plans everything on a database without a ledger", () => {
    expect(planDatabase(files, []).pending).toHaveLength(4);
  });
});
