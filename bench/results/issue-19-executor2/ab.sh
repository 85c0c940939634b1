#!/bin/bash
# A/B: before (/tmp/exec2-before) and after (/work/wt/dtrust), alternating
export BENCH_THROUGHPUT_JOBS=${JOBS:-6000} BENCH_THROUGHPUT_CAP_S=10 BENCH_THROUGHPUT_REPLICAS=${REPL:-1} BENCH_THROUGHPUT_ONLY=${ONLY:-runway:select1}
for i in 1 2; do
  for tree in /tmp/exec2-before /work/wt/dtrust; do
    echo "== $tree run $i load $(cut -d' ' -f1-3 /proc/loadavg)"
    (cd $tree/bench && node --import tsx throughput.ts 2>&1 | grep -E "→")
  done
done
