import fs from "node:fs/promises";
import fsSync from "node:fs";
import inspector from "node:inspector";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay, performance as nodePerformance } from "node:perf_hooks";
import pg from "pg";
import { freePort, startEmbeddedPostgres } from "@runway/server/db";
import { BENCH_PG_SETTINGS } from "./pg.js";

/**
 * What the drain diagnostics (executor-profile.ts for Runway, queue-profile.ts for graphile-worker) share: a
 * PostgreSQL of their own with pg_stat_statements loaded, the CPU meter of a drain, and the statements table.
 * Both measure the same way, so their CPU per run can be read side by side.
 */

export interface ProfilePg {
  url: string;
  admin: pg.Client;
  stop(): Promise<void>;
}

/** An embedded PostgreSQL set up as the benchmark's (fsync off), with pg_stat_statements; `settings` add to it. */
export async function startProfilePg(p: { settings?: Record<string, string>; logFile?: string } = {}): Promise<ProfilePg> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "runway-profile-pg-"));
  const embedded = await startEmbeddedPostgres({
    dataDir,
    port: await freePort(),
    persistent: false,
    settings: {
      ...BENCH_PG_SETTINGS,
      shared_preload_libraries: "pg_stat_statements",
      "pg_stat_statements.track": "top",
      // Planning counted apart from execution (custom plans are made on every call of a prepared statement).
      "pg_stat_statements.track_planning": "on",
      ...p.settings,
    },
    log: (line) => void (p.logFile && fsSync.appendFileSync(p.logFile, line + "\n")),
  });
  const admin = new pg.Client({ connectionString: embedded.url });
  await admin.connect();
  return {
    url: embedded.url,
    admin,
    async stop() {
      await admin.end();
      await embedded.stop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts measuring a drain: the event loop's busy share and delay, Node's CPU, the machine's busy share (both
 * cores), PostgreSQL's processes' CPU (the postmaster of `probe`'s backend), and Node's CPU profile when
 * `profileFile` is set. `stop` returns the lines to print; "cpu per run" is steadier than the rate on a host
 * whose speed drifts, and what an A/B of a change should compare.
 */
export async function startCpuMeter(
  probe: pg.Client,
  profileFile?: string,
): Promise<{ stop(done: number, seconds: number): Promise<string[]> }> {
  const elu0 = nodePerformance.eventLoopUtilization();
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const cpu0 = process.cpuUsage();
  const stat0 = await machineCpu();
  const profiler = profileFile ? await startCpuProfile() : undefined;
  const backend = (await probe.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
  const postmaster = Number((await procStat(backend))![1]);
  const pgCpu0 = await postgresCpu(postmaster);
  return {
    async stop(done, seconds) {
      const elu = nodePerformance.eventLoopUtilization(elu0);
      delay.disable();
      const cpu = process.cpuUsage(cpu0);
      const stat = await machineCpu();
      if (profiler) await profiler.stop(profileFile!);
      const pgCpu = (await postgresCpu(postmaster)) - pgCpu0;
      const busy = 1 - (stat.idle - stat0.idle) / Math.max(1, stat.total - stat0.total);
      const perRun = (cpuSeconds: number) => ((cpuSeconds * 1e6) / Math.max(1, done)).toFixed(0);
      return [
        `node: event loop ${(100 * elu.utilization).toFixed(0)}% busy (delay p50 ${(delay.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms), ${((cpu.user + cpu.system) / 1000 / seconds / 10).toFixed(0)}% of a core; machine: ${(100 * busy).toFixed(0)}% busy (${os.cpus().length} cores)`,
        // Node's kernel time apart: a CPU profile's writev/writeBuffer samples are mostly Node off its core after
        // waking a backend (11 µs of kernel time a run against ~300 ms of such samples in a drain, §8).
        `cpu per run: postgres ${perRun(pgCpu)} µs, node ${perRun((cpu.user + cpu.system) / 1e6)} µs (${perRun(cpu.system / 1e6)} of it in the kernel) (postgres ${pgCpu.toFixed(2)} s in all)`,
      ];
    },
  };
}

/** The statements of the databases named `like` by server time (planning included), top `limit`. */
export async function printStatements(admin: pg.Client, like: string, seconds: number, limit = 25): Promise<void> {
  const { rows } = await admin.query<{ db: string; calls: string; plans: string; total: number; mean: number; plan: number; q: string }>(
    `SELECT d.datname AS db, s.calls, s.plans, round((s.total_exec_time + s.total_plan_time)::numeric, 1)::float8 AS total,
       round(s.mean_exec_time::numeric, 3)::float8 AS mean, round(s.mean_plan_time::numeric, 3)::float8 AS plan,
       regexp_replace(left(s.query, 160), '\\s+', ' ', 'g') AS q
     FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
     WHERE d.datname LIKE $1 ORDER BY s.total_exec_time + s.total_plan_time DESC LIMIT $2`,
    [like, limit],
  );
  const sum = rows.reduce((a, r) => a + r.total, 0);
  console.log(`server time in all (planning included): ${sum.toFixed(0)} ms over ${seconds.toFixed(1)} s wall`);
  for (const r of rows)
    console.log(
      `${r.db.padEnd(22)} ${String(r.calls).padStart(7)} calls ${r.total.toFixed(0).padStart(7)} ms ${r.mean.toFixed(3).padStart(8)} ms/call, ${String(r.plans).padStart(6)} plans of ${r.plan.toFixed(3)} ms ${((100 * r.total) / sum).toFixed(1).padStart(5)}%  ${r.q}`,
    );
}

/**
 * CPU seconds PostgreSQL's processes used so far: every live child of the postmaster, plus the children that
 * ended (the postmaster's cutime/cstime). Unlike the statements' server time, this leaves out the time a
 * backend waited for a core, which on this 2-core host is most of the drift between runs.
 */
async function postgresCpu(postmaster: number): Promise<number> {
  const ticks = 100; // USER_HZ on Linux.
  const pm = await procStat(postmaster);
  let total = pm ? Number(pm[11]) + Number(pm[12]) + Number(pm[13]) + Number(pm[14]) : 0;
  for (const pid of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const f = await procStat(pid);
    if (f && Number(f[1]) === postmaster) total += Number(f[11]) + Number(f[12]);
  }
  return total / ticks;
}

/**
 * A process's /proc/<pid>/stat fields after the command's closing parenthesis (null once it is gone): index 0
 * is the state (field 3), 1 the parent, 11 and 12 utime and stime, 13 and 14 cutime and cstime.
 */
async function procStat(pid: number | string): Promise<string[] | null> {
  const text = await fs.readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  return text === "" ? null : text.slice(text.lastIndexOf(")") + 2).split(" ");
}

/** Node's CPU profile of the drain alone, for `node bench/tools/cpu-summary.mjs`. */
async function startCpuProfile(): Promise<{ stop(file: string): Promise<void> }> {
  const session = new inspector.Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  await post("Profiler.enable");
  await post("Profiler.start");
  return {
    async stop(file) {
      const { profile } = (await post("Profiler.stop")) as { profile: unknown };
      await fs.writeFile(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/** The machine's CPU time from /proc/stat (clock ticks): idle (idle + iowait) and total. */
async function machineCpu(): Promise<{ idle: number; total: number }> {
  const line = (await fs.readFile("/proc/stat", "utf8")).split("\n")[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  return { idle: v[3]! + (v[4] ?? 0), total: v.reduce((a, b) => a + b, 0) };
}
