import { describe, expect, it } from "vitest";
import { formProblems, rolloutFromSql, type SqlRolloutForm } from "./rollout-from-sql";

const form = (p: Partial<SqlRolloutForm> = {}): SqlRolloutForm => ({
  title: "Add events",
  environment: "staging",
  instanceId: "local",
  databases: "shop, billing\nshop",
  type: "DATABASE_SCHEMA_UPDATE",
  schemaVersion: "0100",
  sql: "CREATE TABLE e (id int);\nALTER TABLE e ADD b text;",
  ...p,
});

describe("a rollout from pasted SQL", () => {
  it("makes one task per statement and database, versions numbered in statement order", () => {
    const r = rolloutFromSql(form());
    expect(r.stages).toHaveLength(1);
    expect(r.stages[0]!.tasks.map((t) => [t.database, t.schemaVersion, t.statement])).toEqual([
      ["shop", "0100.1", "CREATE TABLE e (id int)"],
      ["shop", "0100.2", "ALTER TABLE e ADD b text"],
      ["billing", "0100.1", "CREATE TABLE e (id int)"],
      ["billing", "0100.2", "ALTER TABLE e ADD b text"],
    ]);
    expect(rolloutFromSql(form({ sql: "SELECT 1", schemaVersion: "" })).stages[0]!.tasks[0]!.schemaVersion).toBeNull();
  });

  it("says what is missing", () => {
    expect(formProblems(form())).toEqual([]);
    expect(formProblems(form({ title: " ", databases: "bad name!", sql: "-- nothing" }))).toEqual(["needTitle", "badDatabase", "needSql"]);
  });
});
