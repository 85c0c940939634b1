import client from "prom-client";

/** Prometheus metrics of one replica. Runs-by-status and live replicas are read from the database on scrape. */
export class Metrics {
  readonly registry = new client.Registry();
  readonly passDuration = new client.Histogram({
    name: "runway_pending_pass_duration_seconds",
    help: "Duration of pending-scheduler passes",
    labelNames: ["kind"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly promoted = new client.Counter({
    name: "runway_runs_promoted_total",
    help: "Runs promoted PENDING → AVAILABLE by this replica",
    registers: [this.registry],
  });
  readonly pickupLatency = new client.Histogram({
    name: "runway_pickup_latency_seconds",
    help: "Time from AVAILABLE to RUNNING (claim)",
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
    registers: [this.registry],
  });
  readonly claims = new client.Counter({
    name: "runway_runs_claimed_total",
    help: "Runs claimed AVAILABLE → RUNNING by this replica",
    registers: [this.registry],
  });
  readonly finished = new client.Counter({
    name: "runway_runs_finished_total",
    help: "Runs finished by this replica",
    labelNames: ["status"],
    registers: [this.registry],
  });
  readonly recovered = new client.Counter({
    name: "runway_runs_recovered_total",
    help: "Runs whose lease expired, by outcome",
    labelNames: ["outcome"],
    registers: [this.registry],
  });
  readonly runsByStatus = new client.Gauge({
    name: "runway_task_runs",
    help: "Task runs by status (active statuses)",
    labelNames: ["status"],
    registers: [this.registry],
  });
  readonly liveReplicas = new client.Gauge({
    name: "runway_live_replicas",
    help: "Replicas with a recent heartbeat",
    registers: [this.registry],
  });

  readonly webhookDeliveries = new client.Counter({
    name: "runway_webhook_deliveries_total",
    help: "Webhook delivery attempts by this replica, by outcome (delivered, retry, gave_up, lost: the lease was taken over)",
    labelNames: ["outcome"],
    registers: [this.registry],
  });
  readonly webhookAttemptDuration = new client.Histogram({
    name: "runway_webhook_attempt_duration_seconds",
    help: "Duration of one webhook delivery attempt (request to answer or timeout)",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly webhookDeliveryLatency = new client.Histogram({
    name: "runway_webhook_delivery_latency_seconds",
    help: "Time from an event being recorded to its successful delivery (retries included)",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60, 300, 3600, 86400],
    registers: [this.registry],
  });

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: "runway_process_" });
  }
}
