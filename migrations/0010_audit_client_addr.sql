-- Up Migration
-- The client address of each audited request (issue 11). Nullable, no default: replicas of the previous
-- release keep inserting rows without it while a rolling deploy is under way.
ALTER TABLE audit_log ADD COLUMN client_addr text;
