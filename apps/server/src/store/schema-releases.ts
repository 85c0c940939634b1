import type { ColumnType, Generated } from "kysely";

/** Kysely table types for migrations 0040–0041 (instance databases, database groups, releases). */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type GenId = ColumnType<string, string | number | bigint | undefined, never>;
type Int8 = ColumnType<string, string | number | bigint, string | number | bigint>;

export interface ReleaseTables {
  instance_database: { instance_id: string; name: string; seen_at: Timestamp };
  instance_database_listing: { instance_id: string; listed_at: Date | null; attempted_at: Timestamp; error: string | null };
  database_group: {
    project_id: string;
    name: string;
    instance_id: string;
    pattern: string | null;
    includes: string[];
    excludes: string[];
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  release: { id: GenId; project_id: string; title: string; content_hash: string; created_by: string; created_at: Generated<Date> };
  release_file: {
    release_id: Int8;
    position: number;
    name: string;
    version: string | null;
    description: string;
    type: string;
    statement: string;
    sha256: string;
  };
}
