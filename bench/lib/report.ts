import path from "node:path";
import { promises as fs } from "node:fs";
import { readResult, RESULTS_DIR } from "./results.js";

/**
 * Regenerates the tables of docs/benchmarks.md from bench/results/*.json. Only the text between
 * `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` is replaced; the prose around it is written by
 * hand. A missing result file leaves a note instead of a table.
 */

export const DOC = path.join(RESULTS_DIR, "..", "..", "docs", "benchmarks.md");

type Cell = string | number | null | undefined;
const fmt = (c: Cell) => (c === null || c === undefined || (typeof c === "number" && !Number.isFinite(c)) ? "–" : String(c));
const table = (head: string[], rows: Cell[][]) =>
  [`| ${head.join(" | ")} |`, `| ${head.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${r.map(fmt).join(" | ")} |`)].join("\n");
const verdict = (ok: boolean) => (ok ? "met" : "**missed**");
const ms = (x: number | null | undefined) => (x === null || x === undefined ? null : x >= 100 ? Math.round(x) : Number(x.toFixed(1)));
const missing = (name: string) => `_No bench/results/${name}.json yet: run \`pnpm bench\`._`;

interface Machine {
  cpus: number;
  cpuModel?: string;
  memoryGiB: number;
  node: string;
  platform: string;
  commit: string;
  uncommittedChanges?: boolean;
  at: string;
}

async function runSection(): Promise<string> {
  const r = await readResult<{
    startedAt: string;
    totalSeconds: number;
    steps: { step: string; seconds: number; ok: boolean }[];
    load: {
      uptimeBefore: string;
      uptimeAfter: string;
      before: number[];
      after: number[];
      during1mMax: number | null;
      during1mMean: number | null;
    };
    versions: Record<string, string>;
    machine: Machine;
  }>("run");
  if (!r) return missing("run");
  const m = r.machine;
  return table(
    ["", ""],
    [
      ["Machine", `${m.cpus} × ${m.cpuModel ?? "CPU"}, ${m.memoryGiB} GiB, ${m.platform}`],
      ["Node.js / PostgreSQL", `${r.versions.node} / ${r.versions.postgres} (${r.versions.postgresSettings})`],
      ["Compared with", `graphile-worker ${r.versions.graphileWorker}, pg-boss ${r.versions.pgBoss} (node-postgres ${r.versions.pg})`],
      ["Commit measured", `${m.commit}${m.uncommittedChanges ? " plus uncommitted changes in the working tree" : ""}`],
      [
        "Run",
        `${r.startedAt}, ${Math.round(r.totalSeconds)} s in all (${r.steps.map((s) => `${s.step} ${Math.round(s.seconds)} s${s.ok ? "" : " FAILED"}`).join(", ")})`,
      ],
      [
        "Load average (1/5/15 min)",
        `before ${r.load.before.join(" / ")}; after ${r.load.after.join(" / ")}; during (1-min, every 10 s) mean ${fmt(r.load.during1mMean)}, max ${fmt(r.load.during1mMax)}`,
      ],
    ],
  );
}

interface GatingRow {
  pending: number;
  fullPassMs: number;
  fullRecordedMs?: number;
  fullStatements: number;
  fullBatches?: number;
  livePassMs: number;
  liveStatements: number;
  liveCandidates: number;
  livePromoted: number;
  liveFollowUps?: number;
  liveFollowUpsMax?: number;
  liveFollowUpMaxMs?: number;
  fullPeakRssMiB?: number | null;
  fullParts?: Record<string, number>;
}

/** The later FETCHes of a full pass: they run on the reader session beside the pass's statements, not in its time. */
export const GATING_BESIDE = "later reads (beside)";
/** The parts bench/gating.ts splits a full pass into ("Node and waits": the pass's time not in its statements). */
export const GATING_PARTS = ["first batch", "promote", "write causes", "other SQL", "Node and waits", GATING_BESIDE] as const;

async function gatingSection(): Promise<string> {
  const r = await readResult<{ results: GatingRow[]; machine: Machine & { loadAverage?: number[] }; setup: { repeat: number } }>("gating");
  if (!r) return missing("gating");
  const rows = r.results;
  const worstLive = rows.reduce((a, b) => (b.livePassMs > a.livePassMs ? b : a), rows[0]!);
  const full100k = rows.find((x) => x.pending === 100_000);
  const at1M = rows.find((x) => x.pending === 1_000_000);
  const stmts = (k: "fullStatements" | "liveStatements") => [...new Set(rows.map((x) => x[k]))].join(", ");
  const dominant = (x: GatingRow) => {
    const e = Object.entries(x.fullParts ?? {})
      .filter(([k]) => k !== GATING_BESIDE)
      .sort((a, b) => b[1] - a[1])[0];
    return e ? `${e[0]} (${Math.round((100 * e[1]) / x.fullPassMs)}%)` : null;
  };
  return [
    table(
      [
        "pending runs",
        "full pass ms",
        "full, causes recorded ms",
        "full: statements",
        "full: batches",
        "full: peak RSS MiB",
        "live pass ms",
        "live: statements",
        "live: runs evaluated",
        "live: promoted",
        "live: follow-up passes (median / most)",
        "live: slowest follow-up ms",
      ],
      rows.map((x) => [
        x.pending,
        ms(x.fullPassMs),
        ms(x.fullRecordedMs),
        x.fullStatements,
        x.fullBatches,
        x.fullPeakRssMiB,
        ms(x.livePassMs),
        x.liveStatements,
        x.liveCandidates,
        x.livePromoted,
        x.liveFollowUps === undefined ? null : `${x.liveFollowUps} / ${x.liveFollowUpsMax}`,
        x.liveFollowUps === undefined ? null : ms(x.liveFollowUpMaxMs),
      ]),
    ),
    "",
    "Where the full pass's time goes (ms, median). The pass waits for its first batch (its readers' first FETCHes, each sorting the PENDING runs of its part of the databases; the slowest is counted), then promotes and writes each batch on its session while the reader sessions in its snapshot read the next ones: those later reads run beside the pass's statements and are not part of its time; \"Node and waits\" is decide() and waiting for a batch not read yet:",
    "",
    table(
      ["pending runs", ...GATING_PARTS, "largest part"],
      rows.map((x) => [x.pending, ...GATING_PARTS.map((k) => ms(x.fullParts?.[k])), dominant(x)]),
    ),
    "",
    `- Live pass ≤ 100 ms at every size: ${verdict(rows.every((x) => x.livePassMs <= 100 && (x.liveFollowUpMaxMs ?? 0) <= 100))} (slowest median ${ms(worstLive.livePassMs)} ms at ${worstLive.pending}; a follow-up pass is a pass the measured one asked for with \`more\`, run right after it as a replica does, and is held to the same bound).`,
    '- The full pass is measured after every cause was deleted, so it writes all of them (the worst case: the targets are judged on it): a release control\'s cause once per stage, the runs of a held stage not read at all (docs/scheduler.md, "Where causes are recorded"); "causes recorded" is the next full pass, which finds them written and rewrites only what changed, as the periodic safety net usually does.',
    `- Full pass at 100k ≤ 1.5 s: ${full100k ? `${verdict(full100k.fullPassMs <= 1500)} (${ms(full100k.fullPassMs)} ms)` : "not measured"}.`,
    `- At 1M: ${
      at1M
        ? `full pass ≤ 15 s ${verdict(at1M.fullPassMs <= 15_000)} (${ms(at1M.fullPassMs)} ms); peak RSS during a full pass ≤ 512 MB ${
            at1M.fullPeakRssMiB == null ? "not measured" : `${verdict(at1M.fullPeakRssMiB * 1.048576 <= 512)} (${at1M.fullPeakRssMiB} MiB)`
          }`
        : "not measured (BENCH_SIZES=…,1000000)"
    }.`,
    `- Statements per pass: live the same at every size (${stmts("liveStatements")}); full a fixed number plus the same few per batch of its read (${rows
      .map((x) => `${x.fullStatements} over ${x.fullBatches ?? "?"} batches at ${x.pending}`)
      .join(", ")}): none per run.`,
    `- Median of ${r.setup.repeat} passes of each kind; measured at ${r.machine.at} on commit ${r.machine.commit}${r.machine.uncommittedChanges ? " (+ uncommitted changes)" : ""}${
      r.machine.loadAverage ? `; load average at the end ${r.machine.loadAverage.join(" / ")}` : ""
    }.`,
  ].join("\n");
}

interface BaselineRow {
  pending: number;
  pendingAtPass: number;
  evaluated: number;
  finished: boolean;
  baselineMs: number;
  baselineEstimatedMs: number;
  baselineStatements: number;
  baselineStatementsPerRun: number;
  ourLiveSameStateMs: number;
  ourLiveMedianMs: number | null;
  ourFullMedianMs: number | null;
  ratioVsLive: number | null;
  ratioVsFull: number | null;
}

async function baselineSection(): Promise<string> {
  const r = await readResult<{ results: BaselineRow[]; setup: { capMs: number } }>("baseline");
  if (!r) return missing("baseline");
  const ge = (x: BaselineRow) => (x.finished ? "" : "≥ ");
  const at10k = r.results.find((x) => x.pending === 10_000);
  const estRatio = at10k?.ourLiveMedianMs ? Math.round(at10k.baselineEstimatedMs / at10k.ourLiveMedianMs) : null;
  return [
    table(
      [
        "pending runs",
        "baseline pass ms",
        "baseline estimate ms",
        "runs evaluated",
        "baseline statements (per run)",
        "our live ms",
        "baseline ÷ live",
        "our full ms",
        "baseline ÷ full",
      ],
      r.results.map((x) => [
        x.pending,
        `${ge(x)}${x.baselineMs}`,
        x.finished ? "(finished)" : `~${x.baselineEstimatedMs}`,
        `${x.evaluated} / ${x.pendingAtPass}`,
        `${x.baselineStatements} (${x.baselineStatementsPerRun})`,
        ms(x.ourLiveMedianMs),
        x.ratioVsLive === null ? null : `${ge(x)}${x.ratioVsLive}×`,
        ms(x.ourFullMedianMs),
        x.ratioVsFull === null ? null : `${ge(x)}${x.ratioVsFull}×`,
      ]),
    ),
    "",
    `Baseline passes are capped at ${r.setup.capMs / 1000} s; "≥" marks a lower bound, and the estimate extrapolates from the share of runs evaluated. Our times are the medians from the gating table above.`,
    "",
    at10k
      ? `- Live pass ≥ 100× faster than the baseline's pass at 10k: ${
          at10k.ratioVsLive !== null && at10k.ratioVsLive >= 100
            ? "met"
            : estRatio !== null && estRatio >= 100
              ? "met by the estimate (the measured lower bound is below 100×)"
              : "**missed**"
        } (${ge(at10k)}${fmt(at10k.ratioVsLive)}× measured, ~${fmt(estRatio)}× estimated).`
      : "- 10k not measured.",
  ].join("\n");
}

type Summary = { n: number; p50: number; p95: number; p99: number; max: number; mean: number };

async function latencySection(): Promise<string> {
  const r = await readResult<{
    results: {
      ours: Summary;
      oursGated?: Summary;
      graphile: Summary;
      ratio: Summary;
      ratioGated?: Summary;
      breakdown: Record<string, Summary>;
    };
    setup: { runs: number };
  }>("latency");
  if (!r) return missing("latency");
  const { ours, oursGated, graphile, ratio, ratioGated, breakdown } = r.results;
  const row = (name: string, s: Summary, unit = "") => [name, `${s.p50}${unit}`, `${s.p95}${unit}`, `${s.p99}${unit}`, `${s.max}${unit}`];
  const within = ratio.p50 <= 1.5 && ratio.p95 <= 1.5 && ratio.p99 <= 1.5;
  return [
    table(
      ["ms (n = " + ours.n + ")", "p50", "p95", "p99", "max"],
      [
        row("Runway: create → RUNNING (data update, no gate can hold it)", ours),
        ...(oursGated ? [row("Runway: create → RUNNING (schema change, through a pending pass)", oursGated)] : []),
        row("graphile-worker: addJob → task start", graphile),
        row("Runway ÷ graphile-worker", ratio, "×"),
        ...(ratioGated ? [row("Runway through a pending pass ÷ graphile-worker", ratioGated, "×")] : []),
      ],
    ),
    "",
    "Where Runway's time goes (p50/p95/p99/max, ms; the middle two are wall-clock with 1 ms resolution):",
    "",
    table(
      ["part", "p50", "p95", "p99", "max"],
      [
        row("create call (claims the run: the replica has a free slot)", breakdown.createCall!),
        row("created → executor", breakdown.availableToStart!),
        ...(breakdown.gatedCreateCall
          ? [
              row("through a pass: create call", breakdown.gatedCreateCall),
              row("through a pass: create call start → the promoting pass's start", breakdown.gatedCreateToAvailable!),
              row(
                "through a pass: promoted → executor (rest of the pass; a claim if the promote did not claim it)",
                breakdown.gatedAvailableToStart!,
              ),
            ]
          : []),
        row("graphile-worker: addJob call", breakdown.graphileAddJobCall!),
      ],
    ),
    "",
    `- p50 ≤ 10 ms: ${verdict(ours.p50 <= 10)} (${ours.p50} ms). p99 ≤ 50 ms: ${verdict(ours.p99 <= 50)} (${ours.p99} ms).`,
    `- Within 1.5× of graphile-worker (p50, p95, p99): ${verdict(within)} (${ratio.p50}×, ${ratio.p95}×, ${ratio.p99}×).`,
    ...(oursGated && ratioGated
      ? [
          `- Through a pending pass, within 3× of graphile-worker at p50 (issue 19): ${verdict(ratioGated.p50 <= 3)} (${ratioGated.p50}×; p50 ${oursGated.p50} ms, p99 ${oursGated.p99} ms).`,
        ]
      : []),
  ].join("\n");
}

interface TpRow {
  system: string;
  work: string;
  replicas: number;
  jobs: number;
  completed: number;
  seconds: number;
  tasksPerSec: number;
  capped: boolean;
  xactsPerTask: number;
  walPerTask?: { records: number; bytes: number };
  passes?: { count: number; firstMs: number; firstPromoted: number; liveMeanMs: number; lockHeld?: number };
  rounds?: Omit<TpRow, "system" | "work" | "replicas" | "rounds">[];
}

async function throughputSection(): Promise<string> {
  const r = await readResult<{
    results: TpRow[];
    ratios: {
      replicas: number;
      runwayVsGraphileNoop: number | null;
      runwayVsPgBossNoop: number | null;
      runwayVsGraphileSelect1: number | null;
      gatedVsUngated: number | null;
    }[];
    setup: { capS: number; concurrencyPerReplica: number };
  }>("throughput");
  if (!r) return missing("throughput");
  const label: Record<string, string> = { noop: "no-op", select1: "SELECT 1 on a target" };
  const lines = [
    table(
      [
        "system",
        "work",
        "replicas",
        "tasks/s",
        "done / queued in s",
        "transactions per task",
        "WAL per task: records, bytes",
        "our pending passes: first (runs promoted), then live mean",
      ],
      r.results.map((x) => [
        x.system,
        label[x.work] ?? x.work,
        x.replicas,
        // With rounds, the mean and then each round's rate, in the order they ran.
        x.rounds ? `${x.tasksPerSec} (${x.rounds.map((y) => y.tasksPerSec).join(", ")})` : x.tasksPerSec,
        (x.rounds ?? [x]).map((y) => `${y.completed} / ${y.jobs} in ${y.seconds}${y.capped ? " (cap)" : ""}`).join("; "),
        (x.rounds ?? [x]).map((y) => y.xactsPerTask).join("; "),
        (x.rounds ?? [x]).map((y) => (y.walPerTask ? `${y.walPerTask.records}, ${y.walPerTask.bytes} B` : "–")).join("; "),
        x.passes
          ? `${x.rounds ? "round 1: " : ""}${x.passes.count} passes: ${x.passes.firstMs} ms (${x.passes.firstPromoted}), then ${x.passes.liveMeanMs} ms; ${Math.round(x.completed / (x.seconds - x.passes.firstMs / 1000))} tasks/s after the first${x.passes.lockHeld ? `; ${x.passes.lockHeld} tries found the lock held` : ""}`
          : null,
      ]),
    ),
    "",
    table(
      [
        "replicas",
        "Runway ÷ graphile-worker (no-op)",
        "Runway ÷ pg-boss (no-op)",
        "Runway ÷ graphile-worker (SELECT 1)",
        "gated ÷ ungated (Runway, no-op)",
      ],
      r.ratios.map((x) => [x.replicas, x.runwayVsGraphileNoop, x.runwayVsPgBossNoop, x.runwayVsGraphileSelect1, x.gatedVsUngated]),
    ),
    "",
  ];
  for (const x of r.ratios) {
    const cost = x.gatedVsUngated === null ? null : Math.round((1 - x.gatedVsUngated) * 100);
    const costText =
      cost === null ? "not measured" : cost <= 0 ? `met (gated ran ${-cost}% faster than ungated)` : `${verdict(cost <= 30)} (${cost}%)`;
    lines.push(
      `- ${x.replicas} replica(s): throughput ≥ graphile-worker's: ${x.runwayVsGraphileNoop === null ? "not measured" : `${verdict(x.runwayVsGraphileNoop >= 1)} (${x.runwayVsGraphileNoop}×)`}; gating costs ≤ 30%: ${costText}.`,
    );
  }
  return lines.join("\n");
}

async function storeSection(): Promise<string> {
  const r = await readResult<{
    setup: { tasks: number; runs: number; rollouts: number };
    results: { endpoint: string; url: string; p50: number; p95: number; max: number; seqScans: string[] }[];
    endpoints: { name: string; queries: { sql: string; executionMs: number; seqScans: string[]; plan: string }[] }[];
    pendingPasses: { kind: string; ms: number; queries: { sql: string; executionMs: number; seqScans: string[] }[] }[];
  }>("store-scale");
  if (!r) return missing("store-scale");
  const lists = r.results.filter((x) => x.url.includes("/tasks"));
  const worst = lists.reduce((a, b) => (b.p95 > a.p95 ? b : a), lists[0]!);
  const lines = [
    `${r.setup.runs.toLocaleString("en")} finished runs, ${r.setup.tasks.toLocaleString("en")} tasks, ${r.setup.rollouts} rollouts.`,
    "",
    table(
      ["GET", "p50 ms", "p95 ms", "max ms", "SQL execution ms (sum, EXPLAIN ANALYZE)", "big tables read by a seq scan"],
      r.results.map((x) => {
        const sqlMs = r.endpoints.find((e) => e.name === x.endpoint)?.queries.reduce((a, q) => a + q.executionMs, 0);
        return [
          `${x.endpoint} (\`${x.url}\`)`,
          x.p50,
          x.p95,
          x.max,
          sqlMs === undefined ? null : Number(sqlMs.toFixed(2)),
          x.seqScans.join(", ") || "none",
        ];
      }),
    ),
    "",
    `- Rollout task list p95 ≤ 50 ms: ${verdict(worst.p95 <= 50)} (slowest p95 ${worst.p95} ms: ${worst.endpoint}).`,
    `- Pending scheduler with this history and nothing pending: ${r.pendingPasses.map((p) => `${p.kind} pass ${p.ms} ms (seq scans: ${[...new Set(p.queries.flatMap((q) => q.seqScans))].join(", ") || "none"})`).join("; ")}.`,
  ];
  const scans = r.endpoints.flatMap((e) => e.queries.filter((q) => q.seqScans.length > 0).map((q) => ({ e: e.name, q })));
  for (const { e, q } of scans) {
    lines.push(
      "",
      `Sequential scan in "${e}" (${q.executionMs} ms):`,
      "",
      "```sql",
      q.sql,
      "```",
      "",
      "```",
      q.plan.split("\n").slice(0, 14).join("\n"),
      "```",
    );
  }
  return lines.join("\n");
}

interface LintRow {
  shape: string;
  tasks: number;
  distinct: number;
  withoutMs: number;
  withMs: number;
  addedMs: number;
  lintAloneMs: number;
  findings: number;
  squawkError: string | null;
  load?: number[];
}

async function lintSection(): Promise<string> {
  const r = await readResult<{ results: LintRow[]; target: { addedMs: number }; loadAverage: number[]; machine: Machine }>("lint");
  if (!r) return missing("lint");
  const rows = r.results.map((x) => [
    x.shape,
    x.tasks,
    x.distinct,
    x.withoutMs,
    x.withMs,
    x.addedMs,
    x.lintAloneMs,
    x.findings,
    x.load ? `${Math.min(...x.load)}–${Math.max(...x.load)}` : "",
  ]);
  const worst = Math.max(...r.results.map((x) => x.addedMs));
  return [
    table(
      [
        "Rollout",
        "tasks",
        "distinct statements",
        "create ms, no lint",
        "create ms, with lint",
        "added ms",
        "lint alone ms",
        "findings",
        "load (1 min)",
      ],
      rows,
    ),
    "",
    `- Lint adds at most ${r.target.addedMs} ms to a 10,000-task creation: ${verdict(worst <= r.target.addedMs)} (worst ${worst} ms; load average at the end ${r.loadAverage.map((x) => x.toFixed(1)).join(" / ")}, commit ${r.machine.commit}).`,
  ].join("\n");
}

export async function writeReport(): Promise<string> {
  const sections: Record<string, () => Promise<string>> = {
    run: runSection,
    gating: gatingSection,
    baseline: baselineSection,
    latency: latencySection,
    throughput: throughputSection,
    store: storeSection,
    lint: lintSection,
  };
  let doc = await fs.readFile(DOC, "utf8");
  for (const [name, render] of Object.entries(sections)) {
    const re = new RegExp(`(<!-- generated:${name} -->)[\\s\\S]*?(<!-- /generated:${name} -->)`);
    if (!re.test(doc)) throw new Error(`${DOC} lacks the markers for "${name}"`);
    const body = await render();
    doc = doc.replace(re, (_m, open: string, close: string) => `${open}\n${body}\n${close}`);
  }
  await fs.writeFile(DOC, doc);
  return DOC;
}
