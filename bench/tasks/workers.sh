#!/usr/bin/env bash
# One worker against the default (one per core) on bench (a)'s script:
# the same binary, alternating, RUNS times. Shows what crossing workers
# costs tiny tasks (docs/BENCHMARKS.md, "Tasks: one allocation per actor").
#
#   bench/tasks/workers.sh            (after `cargo build --release -p rco-cli`)
#
# Environment: RUNS=3, N=1000000, RCO=target/release/rco.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUNS=${RUNS:-3}
N=${N:-1000000}
RCO=${RCO:-$ROOT/target/release/rco}
want=$((N * (N - 1) / 2))
for ((r = 1; r <= RUNS; r++)); do
  for workers in 1 default; do
    if [[ $workers == default ]]; then env=(env -u RCO_WORKERS); else env=(env RCO_WORKERS=1); fi
    out=$( { /usr/bin/time -f "%e %U %S" "${env[@]}" "$RCO" run --max-tasks 2000000 "$ROOT/bench/tasks/spawn.rco" "$N" >"${TMPDIR:-/tmp}/workers.out"; } 2>&1 | tail -1)
    [[ $(cat "${TMPDIR:-/tmp}/workers.out") == "$want" ]] || { echo "wrong sum with workers=$workers" >&2; exit 1; }
    read -r wall user sys <<<"$out"
    echo "workers=$workers wall ${wall} s user ${user} s sys ${sys} s"
  done
done
