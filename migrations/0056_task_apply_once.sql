-- Up Migration
-- Tasks planned from a release against a ledger snapshot (issue 16) must not apply a version (or, for an
-- unversioned file, a content) that the target's ledger already records under another task: the snapshot
-- may be stale. 'VERSION' or 'CONTENT' tells the executor which check to make inside the run's
-- transaction; NULL (every other task) keeps the per-task ledger check alone. A constant default: no
-- table rewrite; replicas of the previous release insert NULL and never read it.
ALTER TABLE task ADD COLUMN apply_once text CHECK (apply_once IN ('VERSION', 'CONTENT'));
