import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { Api } from "./api.js";
import { CheckContext, runChecks } from "./checks/index.js";
import { startClusters, viaPort, type Clusters } from "./clusters.js";
import { healNetwork, type FaultWorld } from "./env-faults.js";
import { usesProxies, usesRestarts } from "./fault-kinds.js";
import { FaultProxy } from "./fault-proxy.js";
import { quiesce, readControl } from "./control.js";
import { readWaits } from "./control-waits.js";
import { CancelWatcher, cancelBallast, cancelLadderLeftovers, createWorkload, submitRollout } from "./driver.js";
import type { HarnessLog } from "./facts.js";
import { planFaults, runFaults } from "./faults.js";
import type { ChaosOptions } from "./options.js";
import { ReplicaSet } from "./replicas.js";
import { summarizeHarness, summarizeWorkload, type Report } from "./report.js";
import { Rng } from "./rng.js";
import { readTargets, setupTargets } from "./targets.js";
import { planWorkload } from "./workload.js";
import { FlakyReceiver, readWebhookFacts, settleDeliveries } from "./webhooks.js";

const ADMIN_PASSWORD = "chaos-admin-password";

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer().listen(0, "127.0.0.1", () => resolve(s));
          s.on("error", reject);
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/**
 * One chaos run: PostgreSQL, N replicas, the seeded workload through the REST API, the seeded fault plan
 * for the duration, quiescence, then the invariant checks. Always stops what it started. `shared`: the
 * control and target PostgreSQL clusters to use instead of starting them (test/run.ts shares them between
 * its scenarios; each run recreates its control and target databases); the caller stops them.
 *
 * Every replica reaches PostgreSQL through the harness's fault proxies (fault-proxy.ts): its own to the
 * control database, and one shared by all to the target cluster. The harness itself connects directly.
 */
export async function runChaos(o: ChaosOptions, command: string, shared?: Clusters): Promise<Report> {
  const t0 = Date.now();
  const say = o.quiet
    ? () => undefined
    : (line: string) => console.log(`[chaos ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${line}`);
  const outDir = o.outDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), "runway-chaos-")));
  await fs.mkdir(outDir, { recursive: true });
  const rng = Rng.fromSeed(o.seed);
  const w = planWorkload(rng.fork(0), o);
  const faultPlan = planFaults(rng.fork(1), o);
  const harness: HarnessLog = { faults: [], cancels: [], retries: [], crashes: [] };
  const timings: Record<string, number> = {};

  let clusters: Clusters | undefined;
  let ownClusters: Clusters | undefined;
  let control: pg.Pool | undefined;
  let replicas: ReplicaSet | undefined;
  const proxies: FaultProxy[] = [];
  // Its own random stream (fork 2): how often it fails does not shift the workload or the fault plan.
  const receiver = new FlakyReceiver(rng.fork(2));
  const emergency = () => replicas?.killAllNow();
  const onSignal = (sig: NodeJS.Signals) => {
    emergency();
    void (ownClusters?.stop() ?? Promise.resolve()).finally(() => process.exit(sig === "SIGINT" ? 130 : 143));
  };
  process.on("exit", emergency);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    say(
      `seed ${o.seed}: ${w.tasks.length} tasks in ${w.rollouts.length} rollouts over ${w.databases.length} databases; ${faultPlan.length} faults planned; logs in ${outDir}`,
    );
    clusters = shared ?? (ownClusters = await startClusters());
    const controlUrl = await clusters.freshControlDatabase("runway_chaos");
    // Targets get their own cluster when the plan restarts PostgreSQL (one cluster restarts, the other
    // stays up). Otherwise they share the control cluster, as before issue 10: measured at load ~30, the
    // lock-less build's ladders ran 3–6 s per step with a second cluster and 0.6–1.9 s with one, and only
    // the latter let the break-lock self-test catch the broken lock (docs/reliability.md).
    const targetCluster = usesRestarts(o.faults) ? clusters.target : clusters.control;
    // Targets as a non-superuser role that the control database refuses: Runway refuses anything else on its own server.
    const targetRoleUrl = await clusters.targetRoleUrl(targetCluster);
    await setupTargets(targetCluster.serverUrl, targetRoleUrl, w.databases);
    const controlProxies = Array.from(
      { length: o.replicas },
      (_, i) => new FaultProxy(`control path of slot ${i + 1}`, clusters!.control.port),
    );
    const targetProxy = new FaultProxy("target path", targetCluster.port);
    // The proxies relay every replica's traffic through this process's event loop, which a loaded
    // machine slows down: a plan without network faults connects the replicas directly, as before.
    const proxied = usesProxies(o.faults);
    if (proxied) {
      proxies.push(...controlProxies, targetProxy);
      await Promise.all(proxies.map((p) => p.listen()));
    }
    const world: FaultWorld = { clusters, controlProxies, targetProxy };
    say(
      `PostgreSQL up (control :${clusters.control.port}, targets :${targetCluster.port}${targetCluster === clusters.control ? ", the same cluster" : ""}), control database migrated, ${w.databases.length} target databases ready; ${proxied ? `proxies: control ${controlProxies.map((p) => `:${p.port}`).join(" ")}, targets :${targetProxy.port}` : "no proxies (no network faults planned)"}`,
    );
    control = new pg.Pool({ connectionString: controlUrl, max: 4, application_name: "runway chaos harness" });
    control.on("error", () => undefined);
    await control.query("REVOKE CONNECT, TEMPORARY ON DATABASE runway_chaos FROM PUBLIC");
    // For the sessions the replicas open from now on (see ChaosOptions.deadlockTimeoutMs).
    if (o.deadlockTimeoutMs)
      await control.query(`ALTER DATABASE runway_chaos SET deadlock_timeout = '${Math.round(o.deadlockTimeoutMs)}ms'`);

    const env: Record<string, string> = {
      LOG_LEVEL: "warn",
      RUNWAY_CONCURRENCY: String(o.concurrency),
      RUNWAY_LEASE_TTL_MS: String(o.leaseTtlMs),
      RUNWAY_HEARTBEAT_INTERVAL_MS: String(o.heartbeatMs),
      RUNWAY_SWEEP_INTERVAL_MS: String(o.sweepMs),
      RUNWAY_POLL_INTERVAL_MS: String(o.pollMs),
      RUNWAY_FULL_PASS_INTERVAL_MS: String(o.fullPassMs),
      RUNWAY_FULL_PASS_BATCH: String(o.fullPassBatch),
      RUNWAY_FULL_PASS_FIRST_BATCH: String(o.fullPassFirstBatch),
      RUNWAY_DRAIN_GRACE_MS: "2000",
      RUNWAY_LOGIN_RATE_LIMIT: "1000",
      RUNWAY_TARGET_RETRY_S: String(o.targetRetryS),
      // Webhook retries within the run's time: 200 ms doubling to 2 s (the receiver fails half the requests).
      RUNWAY_WEBHOOK_TIMEOUT_MS: "2000",
      RUNWAY_WEBHOOK_RETRY_BASE_MS: "200",
      RUNWAY_WEBHOOK_RETRY_MAX_MS: "2000",
      ...o.replicaEnv,
      RUNWAY_SECRET_KEY: randomBytes(32).toString("base64"),
    };
    const databaseUrl = (slot: number) => (proxied ? viaPort(controlUrl, controlProxies[slot]!.port) : controlUrl);
    replicas = new ReplicaSet(
      { databaseUrl, adminPassword: ADMIN_PASSWORD, env, logDir: outDir, ...(o.testBreak ? { broken: o.testBreak } : {}) },
      await freePorts(o.replicas),
    );
    await replicas.startAll();
    timings.startMs = Date.now() - t0;
    say(`${o.replicas} replicas up: ${replicas.replicas.map((r) => `${r.id}:${r.port}`).join(" ")}`);

    const api = new Api(replicas);
    await api.signIn(ADMIN_PASSWORD);
    const s = await createWorkload(api, w, proxied ? viaPort(targetRoleUrl, targetProxy.port) : targetRoleUrl);
    await receiver.listen();
    await receiver.subscribe(api, w);
    say(`workload created through the API; every project has a webhook to a receiver that fails half the requests`);

    const tStart = Date.now();
    const endAt = tStart + o.durationS * 1000;
    const submittedRollouts = new Set<number>();
    let ladderLeftovers = 0;
    const submissions = Promise.all(
      w.rollouts.map(async (r) => {
        await new Promise((res) => setTimeout(res, r.submitAtMs));
        const late = await submitRollout(api, r, s, tStart);
        if (late) say(`rollout ${r.index}: ${late} ladder runs submitted after their run-at (they ran at once)`);
        submittedRollouts.add(r.index);
        if (r.ladderAtMs !== undefined && submittedRollouts.size === w.rollouts.length) say(`every ladder submitted`);
        if (r.ladderAtMs !== undefined && o.ladders) {
          const left = tStart + r.ladderAtMs + o.ladders.cancelAfterMs - Date.now();
          if (left > 0) await new Promise((res) => setTimeout(res, left));
          ladderLeftovers += await cancelLadderLeftovers(api, r, s);
        }
      }),
    );
    submissions.catch(() => undefined); // awaited below; this only keeps Node from calling it unhandled meanwhile
    const watcher = new CancelWatcher(api, replicas, w, s, submittedRollouts);
    const watching = watcher.run();
    watching.catch(() => undefined);
    const requesting = requestFullPasses(control, endAt, o.fullPassRequestMs);
    requesting.catch(() => undefined); // awaited below
    await runFaults(faultPlan, replicas, control, endAt, harness.faults, say, world, o.victim, o.cleanFreeze);
    await submissions;
    const fullPassRequests = await requesting;
    const left = endAt - Date.now();
    if (left > 0) await new Promise((res) => setTimeout(res, left));
    timings.chaosMs = Date.now() - tStart;
    if (o.ladders) say(`${w.rollouts.length} ladders came due; ${ladderLeftovers} runs left PENDING after their burst were canceled`);
    say(
      `fault window over: ${harness.faults.length} faults, ${fullPassRequests} full passes requested; healing and waiting for quiescence`,
    );

    healNetwork(world);
    await replicas.healAll();
    harness.healedAt = Date.now();
    const canceled = await cancelBallast(api, w, s);
    if (canceled) say(`canceled ${canceled} ballast runs`);
    const tQuiesce = Date.now();
    const quiescent = await quiesce(control, api, w, s, harness.retries, o.quiesceTimeoutMs);
    watcher.stop();
    await watching;
    harness.cancels.push(...watcher.events);
    timings.quiesceMs = Date.now() - tQuiesce;
    harness.readAt = Date.now();
    say(
      quiescent
        ? "quiescent; stopping replicas, checking invariants"
        : `not quiescent (runs left that can never move, or ${o.quiesceTimeoutMs} ms passed); stopping replicas, checking anyway`,
    );
    const tSettle = Date.now();
    const settled = await settleDeliveries(control, 30_000);
    timings.webhooksMs = Date.now() - tSettle;
    say(
      `${settled ? "every webhook delivery settled" : "webhook deliveries still pending after 30 s"} (${receiver.received.length} requests read)`,
    );
    // Nothing may change while the facts are read (when not quiescent, draining releases what still runs).
    await replicas.stopAll(5000);
    harness.crashes.push(...replicas.crashes);
    // Severed connections keep target sessions (and their locks) alive until the proxies close them.
    await Promise.all(proxies.map((p) => p.close()));

    const facts = {
      ...(await readControl(control)),
      ...(await readTargets(targetCluster.serverUrl, w.databases)),
      waits: await readWaits(control),
      webhooks: await readWebhookFacts(control, receiver.received),
    };
    // Raw material for a post-mortem of any violation.
    await fs.writeFile(
      path.join(outDir, "facts.json"),
      JSON.stringify({
        ...facts,
        dataRows: [...facts.dataRows],
        waits: [...facts.waits],
        schemaApplied: [...facts.schemaApplied],
        databases: [...facts.databases],
      }),
    );
    const checks = runChecks(new CheckContext(o, w, s, facts, harness));
    if (harness.crashes.length > 0) {
      checks.push({
        name: "+ No crash",
        ok: false,
        detail: `${harness.crashes.length} replicas exited by themselves`,
        violations: harness.crashes,
      });
    }
    timings.totalMs = Date.now() - t0;
    const report: Report = {
      command,
      outDir,
      options: o,
      workload: summarizeWorkload(w),
      harness: summarizeHarness(harness),
      quiescent,
      timings,
      checks,
      ok: checks.every((c) => c.ok),
    };
    await fs.writeFile(
      path.join(outDir, "report.json"),
      JSON.stringify({ ...report, faults: harness.faults, cancels: harness.cancels }, null, 2),
    );
    return report;
  } finally {
    await replicas?.stopAll(5000).catch(() => replicas?.killAllNow());
    await Promise.all(proxies.map((p) => p.close().catch(() => undefined)));
    await receiver.close().catch(() => undefined);
    await control?.end().catch(() => undefined);
    await ownClusters?.stop().catch(() => undefined);
    process.off("exit", emergency);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/**
 * Sets `gating_state.full_pass_requested` every `everyMs` until `endAt` (what a deletion does), so that
 * the next pass of whichever replica gets the lock is full; returns how many times it did. Direct, not through
 * the fault proxy: the request is the harness's, the faults are the replicas'.
 */
async function requestFullPasses(control: pg.Pool, endAt: number, everyMs: number): Promise<number> {
  if (everyMs <= 0) return 0;
  let n = 0;
  for (let next = Date.now() + everyMs; next < endAt; next += everyMs) {
    await new Promise((res) => setTimeout(res, next - Date.now()));
    // The control PostgreSQL may be down (a restart fault): that request is skipped, the next one tries again.
    const done = await control.query("UPDATE gating_state SET full_pass_requested = true WHERE id = 1").then(
      () => true,
      () => false,
    );
    if (done) n++;
  }
  return n;
}
