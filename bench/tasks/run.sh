#!/usr/bin/env bash
# Task benchmarks ("Tasks as lightweight actors"): rco against Python asyncio
# and Node.js, all measured in the same invocation. See docs/BENCHMARKS.md,
# "## Tasks".
#
#   (a) spawn N (default 1,000,000) trivial tasks and await them all:
#       wall time per task, CPU time per task, peak RSS (/usr/bin/time, %M:
#       the "Maximum resident set size" of `time -v`). Peers: asyncio
#       create_task + gather, Node Promise.all over async functions. A
#       control (spawn_control.rco: the same loop without tasks) isolates
#       the cost of spawn + await_all.
#   (b) PARKED (default 100,000) tasks parked at once, each sleeping 10 s:
#       VmRSS sampled from /proc/PID/status while they are parked, minus the
#       VmRSS of the same script with 0 tasks, divided by PARKED.
#   (d) reach: peak RSS of a chain of DEPTH tasks each spawned inside a
#       recursive function (chain.rco, DEPTHS), and of unbounded recursion
#       through tasks stopped by the task limit (recurse.rco).
#   (c) fairness: HOGS tasks spinning in `1 while end` while a ticker task
#       sleeps 1 ms ITER times (lateness of each wake) and then does ITER
#       spawn+await round trips. rco only (asyncio and Node have no
#       preemption: a spinning coroutine stops their event loop for good).
#   (e) fairness against real work: 2 tasks loop forever on
#       `0 100000 range drop` (a word doing real work, charged to the
#       reduction budget) while a ticker sleeps 1 ms SLEEPS times; lateness
#       of each wake. Default worker count, reactor polled by the idle
#       worker. rco only.
#
# Usage: bench/tasks/run.sh            (from anywhere; prints Markdown)
#
# Environment:
#   RUNS=3             repetitions of (a), (b) and (c); (a) and (b) report
#                      the median, (c) pools the samples of all runs.
#                      Implementations alternate: rco, rco-control, python,
#                      node, rco, ...
#   N=1000000          tasks in (a)
#   PARKED=100000      parked tasks in (b)
#   HOLD=3000          ms the (b) scripts stay alive after printing "ready"
#   ITER=2000          sleeps and round trips in (c)
#   SLEEPS=300         sleeps in (e)
#   PYTHON=/usr/bin/python3   (Debian's PGO/LTO build if present, else python3)
#   NODE=node
#   SKIP_BUILD=1       do not run `cargo build --release -p rco-cli` first
#   DEPTHS="1000 2000 3000"  chain depths in (d)
#   ONLY="a b c d e"   run only some parts
#
# Every (a) program prints the sum of the task results and the script checks
# it, so a wrong answer never produces a time. Each program runs under
# `timeout`, so a hang is reported, not waited for.
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RUNS=${RUNS:-3}
N=${N:-1000000}
PARKED=${PARKED:-100000}
HOLD=${HOLD:-3000}
ITER=${ITER:-2000}
DEPTHS=${DEPTHS:-1000 2000 3000}
SLEEPS=${SLEEPS:-300}
ONLY=${ONLY:-a b c d e}
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x /usr/bin/python3 ]]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
NODE=${NODE:-node}
RCO="$ROOT/target/release/rco"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

log() { echo "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- set-up
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building rco (release)..."
  (cd "$ROOT" && cargo build --release -p rco-cli >&2)
fi
[[ -x "$RCO" ]] || die "$RCO not found"

if ! /usr/bin/time -f x true >/dev/null 2>&1; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "/usr/bin/time missing: installing the Debian package time..."
    apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >&2
  fi
  /usr/bin/time -f x true >/dev/null 2>&1 || die "/usr/bin/time not found (apt-get install time)"
fi
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found"
command -v "$NODE" >/dev/null 2>&1 || die "$NODE not found"
# the real interpreters, not wrappers such as pyenv shims
PYTHON=$("$PYTHON" -c 'import sys; print(sys.executable)')
NODE=$(readlink -f "$(command -v "$NODE")")

# the command line of implementation $1 for script $2 (args follow)
command_for() {
  local impl=$1 script=$2
  shift 2
  case $impl in
    rco) echo "$RCO run --max-tasks 2000000 $HERE/$script.rco $*" ;;
    rco-control) echo "$RCO run $HERE/${script}_control.rco $*" ;;
    python) echo "$PYTHON $HERE/$script.py $*" ;;
    node) echo "$NODE $HERE/$script.js $*" ;;
  esac
}

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
NPROC=$(nproc)
echo "Machine: $NPROC cores (nproc), $cpu; $(uname -sr); $(free -g | awk '/^Mem:/ { print $2 " GiB RAM" }')"
echo "Versions: rco $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$ROOT" && m=$(git status --porcelain -- lang cli src actors reactor 2>/dev/null | awk '{ print $2 }' | tr '\n' ' ') && [[ -n $m ]] && echo " (uncommitted changes in: ${m% })"), $("$PYTHON" --version 2>&1) ($PYTHON), Node $("$NODE" --version) ($NODE)"
echo "Load average at start: $(loadavg)"
echo

# ---------------------------------------------------------------- (a)
# run once under /usr/bin/time; prints "wall user sys maxrss_kb"
spawn_once() {
  local impl=$1 n=$2 out want=$(($2 * ($2 - 1) / 2)) rc=0 start end
  start=$EPOCHREALTIME
  # shellcheck disable=SC2046
  out=$(timeout 300 /usr/bin/time -o "$TMP/time" -f '%U %S %M' $(command_for "$impl" spawn "$n") 2>"$TMP/err") || rc=$?
  end=$EPOCHREALTIME
  if [[ $rc != 0 || "$out" != "$want" ]]; then
    log "error: $impl spawn $n exited $rc, printed '$out', expected '$want'"
    sed 's/^/  | /' "$TMP/err" | head -5 >&2
    [[ $rc == 124 ]] && log "  (timed out after 300 s: a hang)"
    exit 1
  fi
  echo "$(calc "%.3f" "$end - $start") $(tail -1 "$TMP/time")"
}

if [[ " $ONLY " == *" a "* ]]; then
  log "(a) spawn + await of $N trivial tasks, $RUNS runs..."
  for impl in rco rco-control python node; do : >"$TMP/a.$impl"; : >"$TMP/a0.$impl"; done
  for ((r = 1; r <= RUNS; r++)); do
    for impl in rco rco-control python node; do
      spawn_once $impl 0 >>"$TMP/a0.$impl"
      spawn_once $impl "$N" >>"$TMP/a.$impl"
      log "  run $r $impl: $(tail -1 "$TMP/a.$impl") (wall s, user s, sys s, max RSS KB); empty: $(tail -1 "$TMP/a0.$impl")"
    done
  done
  declare -A W W0 C M M0
  for impl in rco rco-control python node; do
    W[$impl]=$(awk '{ print $1 }' "$TMP/a.$impl" | median)
    W0[$impl]=$(awk '{ print $1 }' "$TMP/a0.$impl" | median)
    C[$impl]=$(awk '{ print $2 + $3 }' "$TMP/a.$impl" | median)
    M[$impl]=$(awk '{ print $4 }' "$TMP/a.$impl" | median)
    M0[$impl]=$(awk '{ print $4 }' "$TMP/a0.$impl" | median)
  done
  us() { calc "%.2f" "($1) * 1e6 / $N"; }
  echo "### (a) Spawn and await_all $N trivial tasks (median of $RUNS runs)"
  echo
  echo "\"net\" subtracts the same program run with 0 tasks (start-up, empty loop)."
  echo
  echo "| implementation | wall (s) | µs/task (wall) | µs/task (net wall) | CPU µs/task (user+sys) | peak RSS (MB) | peak RSS bytes/task (net) |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  declare -A NET
  for impl in rco rco-control python node; do
    case $impl in rco) label="rco (\`[ \$k ] spawn\`, \`await_all\`)" ;; rco-control) label="rco control: same loop, no tasks (\`[ \$k ] call\`)" ;; python) label="Python asyncio (create_task + gather)" ;; node) label="Node (async fn + Promise.all)" ;; esac
    NET[$impl]=$(us "${W[$impl]} - ${W0[$impl]}")
    echo "| $label | ${W[$impl]} | $(us "${W[$impl]}") | ${NET[$impl]} | $(us "${C[$impl]}") | $(calc "%.0f" "${M[$impl]} / 1024") | $(calc "%.0f" "(${M[$impl]} - ${M0[$impl]}) * 1024 / $N") |"
  done
  echo
  sp_py=$(calc "%.2f" "${NET[python]} / ${NET[rco]}")
  sp_node=$(calc "%.2f" "${NET[node]} / ${NET[rco]}")
  cpu_py=$(calc "%.2f" "${C[python]} / ${C[rco]}")
  cpu_node=$(calc "%.2f" "${C[node]} / ${C[rco]}")
  echo "Spawn + await alone (rco minus the control): $(calc "%.2f" "${NET[rco]} - ${NET[rco-control]}") µs/task wall, $(us "${C[rco]} - ${C[rco-control]}") µs/task CPU."
  echo "Ratios (net wall per task; > 1 means rco is faster): asyncio/rco = **$sp_py**x, node/rco = **$sp_node**x."
  echo "CPU-time ratios: asyncio/rco = $cpu_py, node/rco = $cpu_node."
  echo "Peak RSS ratios: asyncio/rco = $(calc "%.2f" "${M[python]} / ${M[rco]}"), node/rco = $(calc "%.2f" "${M[node]} / ${M[rco]}")."
  echo
  t1=$(awk -v a="$sp_node" 'BEGIN { print (a >= 1.0) ? "MET" : "NOT MET" }')
  t2=$(awk -v a="$sp_py" 'BEGIN { print (a >= 2.0) ? "MET" : "NOT MET" }')
  echo "Target no slower than Node (node/rco ≥ 1): **$t1** (${sp_node}x). Target at most 0.5x asyncio's time (asyncio/rco ≥ 2): **$t2** (${sp_py}x)."
  echo
fi

# ---------------------------------------------------------------- (b)
# start impl with n parked tasks, wait for "ready", sample VmRSS; prints KB
park_once() {
  local impl=$1 n=$2 pid i rss max=0 rc=0
  rm -f "$TMP/park.out" "$TMP/park.err" # no stale "ready" from the previous run
  # shellcheck disable=SC2046
  timeout 120 $(command_for "$impl" park "$n" "$HOLD") >"$TMP/park.out" 2>"$TMP/park.err" &
  pid=$!
  for ((i = 0; i < 600; i++)); do
    grep -q ready "$TMP/park.out" 2>/dev/null && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
  done
  grep -q ready "$TMP/park.out" 2>/dev/null || { wait $pid || true; die "$impl park $n never printed ready: $(head -3 "$TMP/park.err")"; }
  sleep 1 # let every task start and park
  # the process is `timeout`'s child; sample that child
  local child
  child=$(pgrep -P $pid | head -1)
  for i in 1 2 3; do
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$child/status" 2>/dev/null || echo 0)
    ((rss > max)) && max=$rss
    sleep 0.3
  done
  wait $pid || rc=$?
  [[ $rc == 0 ]] || die "$impl park $n exited $rc: $(head -3 "$TMP/park.err")"
  if [[ $impl == rco && $n -gt 0 ]] && ! grep -q "note: $n tasks were still running" "$TMP/park.err"; then
    die "rco park $n: expected 'note: $n tasks were still running', stderr: $(head -3 "$TMP/park.err")"
  fi
  echo "$max"
}

if [[ " $ONLY " == *" b "* ]]; then
  log "(b) $PARKED parked tasks, $RUNS runs..."
  for impl in rco python node; do : >"$TMP/b.$impl"; : >"$TMP/b0.$impl"; done
  for ((r = 1; r <= RUNS; r++)); do
    for impl in rco python node; do
      park_once $impl 0 >>"$TMP/b0.$impl"
      park_once $impl "$PARKED" >>"$TMP/b.$impl"
      log "  run $r $impl: VmRSS $(tail -1 "$TMP/b.$impl") KB with $PARKED tasks, $(tail -1 "$TMP/b0.$impl") KB with 0"
    done
  done
  echo "### (b) $PARKED tasks parked at once (median of $RUNS runs)"
  echo
  echo "Each task sleeps 10 s; VmRSS is read from /proc/PID/status 1.0 to 1.6 s after the script prints \"ready\" (max of 3 samples)."
  echo "rco: \`[ 10000 sleep ] spawn\`; Python: \`create_task(asyncio.sleep(10))\`; Node: async fn awaiting a 10 s \`setTimeout\` promise."
  echo
  echo "| implementation | VmRSS, 0 tasks (KB) | VmRSS, $PARKED tasks (KB) | bytes per parked task |"
  echo "|---|---:|---:|---:|"
  declare -A BPT
  for impl in rco python node; do
    z=$(median <"$TMP/b0.$impl"); f=$(median <"$TMP/b.$impl")
    BPT[$impl]=$(calc "%.0f" "($f - $z) * 1024 / $PARKED")
    case $impl in rco) label=rco ;; python) label="Python asyncio" ;; node) label=Node ;; esac
    echo "| $label | $z | $f | ${BPT[$impl]} |"
  done
  echo
  t=$(awk -v a="${BPT[rco]}" 'BEGIN { print (a <= 512) ? "MET" : "NOT MET" }')
  echo "Target ≤ 512 B per parked task: **$t** (${BPT[rco]} bytes; this includes the task's handle in the \`handles\` array, which grows while the tasks are spawned)."
  echo
fi

# ---------------------------------------------------------------- (c)
# nearest-rank percentile of the numbers on stdin: p in (0, 100]
pct() { sort -n | awk -v p="$1" '{ a[NR] = $1 } END { if (NR == 0) { print "n/a"; exit } i = int(NR * p / 100); if (i < NR * p / 100) i++; if (i < 1) i = 1; print a[i] }'; }

if [[ " $ONLY " == *" c "* ]]; then
  echo "### (c) Fairness: 1 ms sleeps and spawn+await round trips next to spinning tasks ($RUNS runs pooled)"
  echo
  echo "rco runs $NPROC worker threads here. HOGS tasks run \`[ 1 while end ] spawn\`; a ticker task then does $ITER times \`now\`, \`1 sleep\`, \`now\` (lateness = elapsed − 1 ms) and $ITER times \`now\`, \`[ 0 ] spawn await\`, \`now\` (round trip)."
  echo "\`now\` has millisecond resolution, so each single value is ±1 ms (a lateness of 0 means the wake came within the same or next millisecond tick); the mean, from each phase's total time, is exact to 1 ms / $ITER."
  echo "Percentiles are over the $((RUNS * ITER)) values of $RUNS runs; \"p99 per run\" shows the spread. CPU is user+sys of one run (median), which shows the hogs were spinning."
  echo
  echo "| hogs | sleep lateness p50 / p99 / max (ms) | sleep p99 per run | mean lateness (ms) | round trip p50 / p99 / max (ms) | round trip p99 per run | mean round trip (ms) | wall / CPU per run (s) | p99 < 10 ms |"
  echo "|---:|---|---|---:|---|---|---:|---:|---|"
  all_met=MET
  for hogs in 0 1 "$NPROC" $((2 * NPROC)); do
    : >"$TMP/sleeps"; : >"$TMP/rtts"; : >"$TMP/walls"; : >"$TMP/cpus"
    st=0; rt=0; s_runs=""; r_runs=""
    for ((r = 1; r <= RUNS; r++)); do
      log "(c) fairness with $hogs hogs, run $r..."
      rc=0
      # shellcheck disable=SC2046
      timeout 300 /usr/bin/time -o "$TMP/time" -f '%e %U %S' $(command_for rco fair "$hogs" "$ITER") >"$TMP/fair.out" 2>"$TMP/fair.err" || rc=$?
      [[ $rc == 0 ]] || die "rco fair $hogs $ITER exited $rc: $(head -3 "$TMP/fair.err")"
      if ((hogs > 0)) && ! grep -q "note: $hogs tasks\? w[ae][sr]e\? still running" "$TMP/fair.err"; then
        die "rco fair $hogs: the hogs were not all running at the end: $(head -3 "$TMP/fair.err")"
      fi
      awk '$1 == "sleep" { print $2 }' "$TMP/fair.out" >"$TMP/s1"
      awk '$1 == "rtt" { print $2 }' "$TMP/fair.out" >"$TMP/r1"
      [[ $(wc -l <"$TMP/s1") == "$ITER" && $(wc -l <"$TMP/r1") == "$ITER" ]] || die "rco fair $hogs: wrong number of measurements"
      cat "$TMP/s1" >>"$TMP/sleeps"; cat "$TMP/r1" >>"$TMP/rtts"
      s_runs="$s_runs${s_runs:+, }$(pct 99 <"$TMP/s1")"; r_runs="$r_runs${r_runs:+, }$(pct 99 <"$TMP/r1")"
      st=$((st + $(awk '$1 == "sleep_total" { print $2 }' "$TMP/fair.out")))
      rt=$((rt + $(awk '$1 == "rtt_total" { print $2 }' "$TMP/fair.out")))
      read -r wall user sys <"$TMP/time"
      echo "$wall" >>"$TMP/walls"; calc "%.2f\n" "$user + $sys" >>"$TMP/cpus"
    done
    s99=$(pct 99 <"$TMP/sleeps"); r99=$(pct 99 <"$TMP/rtts")
    ok=$(awk -v a="$s99" -v b="$r99" 'BEGIN { print (a < 10 && b < 10) ? "yes" : "**no**" }')
    ((hogs > 0)) && [[ $ok != yes ]] && all_met="NOT MET"
    echo "| $hogs | $(pct 50 <"$TMP/sleeps") / $s99 / $(pct 100 <"$TMP/sleeps") | $s_runs | $(calc "%.3f" "$st / ($RUNS * $ITER) - 1") | $(pct 50 <"$TMP/rtts") / $r99 / $(pct 100 <"$TMP/rtts") | $r_runs | $(calc "%.3f" "$rt / ($RUNS * $ITER)") | $(median <"$TMP/walls") / $(median <"$TMP/cpus") | $ok |"
  done
  echo
  echo "Target p99 < 10 ms with spinning tasks (hogs > 0, pooled sleep lateness and round trip): **$all_met**."
  echo
fi

# ---------------------------------------------------------------- (d)
if [[ " $ONLY " == *" d "* ]]; then
  log "(d) reach: task chains and unbounded recursion..."
  echo "### (d) Tasks spawned inside recursion (peak RSS, /usr/bin/time %M)"
  echo
  echo "| program | wall (s) | peak RSS (MB) | result |"
  echo "|---|---:|---:|---|"
  for depth in $DEPTHS; do
    rc=0
    out=$(timeout 300 /usr/bin/time -o "$TMP/time" -f '%e %M' "$RCO" run "$HERE/chain.rco" "$depth" 2>"$TMP/err") || rc=$?
    [[ $rc == 0 && $out == "$depth" ]] || die "chain $depth exited $rc, printed '$out': $(head -3 "$TMP/err")"
    read -r wall kb <"$TMP/time"
    echo "| \`$depth chain\` (chain.rco) | $wall | $(calc "%.1f" "$kb / 1024") | $out |"
  done
  rc=0
  timeout 300 /usr/bin/time -o "$TMP/time" -f '%e %M' "$RCO" run "$HERE/recurse.rco" >/dev/null 2>"$TMP/err" || rc=$?
  grep -q "task limit exceeded" "$TMP/err" || die "recurse.rco exited $rc without 'task limit exceeded': $(head -3 "$TMP/err")"
  read -r wall kb < <(tail -1 "$TMP/time")
  echo "| unbounded recursion (recurse.rco), default --max-tasks | $wall | $(calc "%.1f" "$kb / 1024") | task limit exceeded |"
  echo
  echo "Targets: 3000 levels in at most 64 MB, growing linearly; unbounded recursion stopped by the task limit under 1 GiB."
  echo
fi

# ---------------------------------------------------------------- (e)
if [[ " $ONLY " == *" e "* ]]; then
  echo "### (e) Fairness against real work: 1 ms sleeps beside 2 tasks looping on \`0 100000 range drop\` ($RUNS runs pooled)"
  echo
  echo "rco runs $NPROC worker threads here (the default), the reactor polled by the idle worker. Each hog runs \`[ 1 while 0 100000 range drop end ] spawn\`; a ticker task then does $SLEEPS times \`now\`, \`1 sleep\`, \`now\` (lateness = elapsed − 1 ms, ±1 ms: \`now\` has millisecond resolution)."
  echo
  echo "| sleeps | lateness p50 / p99 / max (ms) | p99 per run | mean lateness (ms) | p99 ≤ 5 ms |"
  echo "|---:|---|---|---:|---|"
  : >"$TMP/dsleeps"
  st=0; d_runs=""
  for ((r = 1; r <= RUNS; r++)); do
    log "(e) fairness against real work, run $r..."
    rc=0
    timeout 300 "$RCO" run "$HERE/fair_work.rco" 2 "$SLEEPS" >"$TMP/fw.out" 2>"$TMP/fw.err" || rc=$?
    [[ $rc == 0 ]] || die "rco fair_work 2 $SLEEPS exited $rc (124: the sleeper starved): $(head -3 "$TMP/fw.err")"
    grep -q "note: 2 tasks were still running" "$TMP/fw.err" || die "fair_work: the hogs were not both running at the end: $(head -3 "$TMP/fw.err")"
    awk '$1 == "sleep" { print $2 }' "$TMP/fw.out" >"$TMP/d1"
    [[ $(wc -l <"$TMP/d1") == "$SLEEPS" ]] || die "fair_work: wrong number of measurements"
    cat "$TMP/d1" >>"$TMP/dsleeps"
    d_runs="$d_runs${d_runs:+, }$(pct 99 <"$TMP/d1")"
    st=$((st + $(awk '$1 == "sleep_total" { print $2 }' "$TMP/fw.out")))
  done
  d99=$(pct 99 <"$TMP/dsleeps")
  ok=$(awk -v a="$d99" 'BEGIN { print (a <= 5) ? "yes" : "**no**" }')
  echo "| $((RUNS * SLEEPS)) | $(pct 50 <"$TMP/dsleeps") / $d99 / $(pct 100 <"$TMP/dsleeps") | $d_runs | $(calc "%.3f" "$st / ($RUNS * $SLEEPS) - 1") | $ok |"
  echo
fi

echo "Load average at end: $(loadavg)"
