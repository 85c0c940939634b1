import type { ColumnType, Generated } from "kysely";
import type { ReleaseTables } from "./schema-releases.js";

/** Kysely table types for migrations/*.sql. Only the store module uses these. */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type GenId = ColumnType<string, string | number | bigint | undefined, never>;
type Int8 = ColumnType<string, string | number | bigint, string | number | bigint>;
type Json<T = unknown> = ColumnType<T, string | T, string | T>;

export interface ProjectTable {
  id: string;
  title: string;
  parallel_tasks_per_rollout: Generated<number>;
  circuit_breaker_failures: Generated<number>;
  deleted: Generated<boolean>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface InstanceTable {
  id: string;
  title: string;
  engine: Generated<string>;
  connection_url: string;
  deleted: Generated<boolean>;
  created_at: Generated<Date>;
}

export interface RolloutTable {
  id: GenId;
  project_id: string;
  title: string;
  created_by: string;
  created_at: Generated<Date>;
  /** IN_ORDER (default) or NONE: whether a stage's runs wait for the earlier stages (migration 0020). */
  stage_order: Generated<string>;
  breaker_reset_at: NullableTimestamp;
}

export interface StageTable {
  id: GenId;
  rollout_id: Int8;
  environment: string;
  position: number;
}

export interface TaskTable {
  id: GenId;
  rollout_id: Int8;
  stage_id: Int8;
  instance_id: string;
  database_name: string;
  type: string;
  statement: string;
  schema_version: string | null;
  schema_version_key: string | null;
  /** Whether a run may be re-run after its owner died (domain/statements.ts), set at creation; false exactly for statements run outside a transaction, DATABASE_CREATE aside. */
  rerunnable: boolean;
  skipped: Generated<boolean>;
  skip_reason: string | null;
  status: Generated<string>;
  /** Generated: status is not DONE or SKIPPED (migration 0066); the partial indexes test it, not status. */
  unfinished: Generated<boolean>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface TaskRunTable {
  id: GenId;
  task_id: Int8;
  attempt: number;
  status: string;
  rollout_id: Int8;
  instance_id: string;
  database_name: string;
  sequential: boolean;
  schema_version_key: string | null;
  rerunnable: Generated<boolean>;
  run_at: NullableTimestamp;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  created_by: string | null;
  canceled_by: string | null;
  owner_replica: string | null;
  lease_expires_at: NullableTimestamp;
  lease_epoch: Generated<number>;
  cancel_requested_at: NullableTimestamp;
  result: Json | null;
  owner_lost_at: NullableTimestamp;
  owner_lost_error: string | null;
  retry_at: NullableTimestamp;
  retry_since: NullableTimestamp;
  retry_attempts: Generated<number>;
  retry_error: string | null;
  retry_cause: string | null;
  auto_retries: Generated<number>;
  auto_retry_max: number | null;
  ahead: Generated<boolean>;
}

export interface ProjectRetryPolicyTable {
  project_id: string;
  lock_timeout_ms: Generated<number>;
  max_auto_retries: Generated<number>;
  backoff_base_ms: Generated<number>;
  backoff_max_ms: Generated<number>;
  updated_at: Generated<Date>;
  updated_by: string | null;
}

export interface TaskRunLogTable {
  id: GenId;
  task_run_id: Int8;
  at: Generated<Date>;
  type: string;
  replica_id: string | null;
  payload: Generated<Json>;
}

export interface ReplicaTable {
  id: string;
  started_at: Generated<Date>;
  heartbeat_at: Timestamp;
  hostname: string | null;
  pid: number | null;
  stopping: Generated<boolean>;
  executor_slots: number | null;
}

export interface AppUserTable {
  username: string;
  password_hash: string;
  role: string;
  disabled: Generated<boolean>;
  created_at: Generated<Date>;
}

export interface UserSessionTable {
  id: string;
  username: string;
  csrf_token: string;
  created_at: Generated<Date>;
  expires_at: Timestamp;
}

export interface ApiTokenTable {
  id: GenId;
  username: string;
  name: string;
  token_hash: string;
  created_at: Generated<Date>;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  expires_at: NullableTimestamp;
}

export interface AuditLogTable {
  id: GenId;
  at: Generated<Date>;
  actor: string | null;
  action: string;
  target: string | null;
  outcome: string;
  detail: Json | null;
  client_addr: string | null;
}

export interface LoginFailureTable {
  key: string;
  failures: number;
  last_failure_at: Date;
  locked_until: Date | null;
}

/** A run's waiting cause (task_run_wait, and the run_wait view with its columns). */
interface TaskRunWaitTable {
  run_id: string;
  type: string;
  cause: Json;
  rollout_id: string;
  run_created_at: Date;
  // The run's, copied (migration 0063); a trigger fills them for writers that leave them out.
  instance_id: string | null;
  database_name: string | null;
  sequential: boolean | null;
}

export interface DB extends ReleaseTables {
  project: ProjectTable;
  instance: InstanceTable;
  rollout: RolloutTable;
  stage: StageTable;
  task: TaskTable;
  task_run: TaskRunTable;
  task_run_log: TaskRunLogTable;
  task_run_wait: TaskRunWaitTable;
  /** A release control's cause, once for every PENDING run of the stage without a task_run_wait row (migration 0069). */
  stage_wait: {
    stage_id: string;
    rollout_id: string;
    type: string;
    cause: Json;
  };
  /** View: every PENDING run's recorded cause, its task_run_wait row or else its stage's stage_wait row. */
  run_wait: TaskRunWaitTable;
  project_retry_policy: ProjectRetryPolicyTable;
  replica: ReplicaTable;
  app_user: AppUserTable;
  user_session: UserSessionTable;
  api_token: ApiTokenTable;
  audit_log: AuditLogTable;
  login_failure: LoginFailureTable;
  gating_dirty_run: { id: GenId; run_id: Int8 };
  gating_dirty_database: { id: GenId; instance_id: string; database_name: string; version_from: string | null };
  gating_dirty_task: { id: GenId; task_id: Int8 };
  gating_dirty_rollout: { id: GenId; rollout_id: Int8; all_limited: Generated<boolean> };
  /** A run transition's change marks, one row per statement (migration 0070): the three tables above, as arrays. */
  gating_dirty_batch: { instance_ids: string[]; database_names: string[]; task_ids: string[]; rollout_ids: string[] };
  gating_state: {
    id: number;
    full_pass_requested: Generated<boolean>;
    last_full_pass_at: NullableTimestamp;
    last_pass_at: NullableTimestamp;
  };
  secret_key_check: { key_id: string; check_value: string; created_at: Generated<Date> };
  project_instance: { project_id: string; instance_id: string; created_at: Generated<Date> };
  project_member: { project_id: string; username: string; role: string; granted_by: string; granted_at: Generated<Date> };
  webhook: WebhookTable;
  webhook_event: WebhookEventTable;
  webhook_delivery: WebhookDeliveryTable;
  webhook_attempt: WebhookAttemptTable;
  webhook_wait_seen: { run_id: Int8; type: string; since: Date };
  environment_policy: {
    project_id: string;
    environment: string;
    auto_run: boolean;
    approval: string;
    approver_not_creator: boolean;
    updated_by: string;
    updated_at: Timestamp;
  };
  stage_approval: { id: GenId; stage_id: Int8; decision: string; decided_by: string; decided_at: Timestamp; comment: string };
  rollout_pause: { rollout_id: Int8; paused_by: string; paused_at: Timestamp; reason: string; automatic: Generated<boolean> };
}

export interface WebhookTable {
  id: GenId;
  project_id: string;
  title: string;
  url: string;
  kind: string;
  events: string[];
  secret: string | null;
  wait_alert_minutes: Generated<number>;
  enabled: Generated<boolean>;
  deleted: Generated<boolean>;
  created_by: string;
  created_at: Generated<Date>;
}

export interface WebhookEventTable {
  id: GenId;
  uid: Generated<string>;
  project_id: string;
  kind: string;
  rollout_id: Int8 | null;
  stage_id: Int8 | null;
  task_id: Int8 | null;
  run_id: Int8 | null;
  facts: Json;
  dedupe_key: string | null;
  created_at: Timestamp;
}

export interface WebhookDeliveryTable {
  id: GenId;
  event_id: Int8;
  webhook_id: Int8;
  state: Generated<string>;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  lease_owner: string | null;
  lease_epoch: Generated<number>;
  lease_expires_at: NullableTimestamp;
  delivered_at: NullableTimestamp;
  created_at: Timestamp;
  retry_since: Timestamp;
}

export interface WebhookAttemptTable {
  id: GenId;
  delivery_id: Int8;
  at: Date;
  replica_id: string;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  ok: boolean;
}
