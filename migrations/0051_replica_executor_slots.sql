-- Up Migration
-- Executor capacity is visible (issue 14 point 6): each replica records its executor slots
-- (RUNWAY_CONCURRENCY) when it registers and on every heartbeat; `GET /api/v1/replicas` reads them with
-- the RUNNING runs each one owns. Expand only: nullable, no default, so replicas of the previous release
-- (whose upserts do not name it) leave it NULL, read as "unknown" (never as a full replica).
ALTER TABLE replica ADD COLUMN executor_slots integer;
