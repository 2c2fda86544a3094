#!/usr/bin/env bash
# Language benchmark: an integer loop, naive recursive fib and collections and
# strings (push, each, transform, select, put/at, split/join), rco against
# CPython 3 and Lua 5.4. See docs/BENCHMARKS.md, "Language: integer loop and
# fib" and "Language: collections and strings".
#
# Usage: bench/lang/run.sh            (from anywhere)
#
# Environment:
#   RUNS=3            timed runs per program (median is reported); runs alternate
#                     implementations: rco, python, lua, rco, python, lua, ...
#   PYTHON=...        the CPython to compare with: default Debian's
#                     /usr/bin/python3 if present (on this machine it is faster
#                     than the pyenv python3 on PATH, so the stronger peer), else
#                     python3
#   LUA=lua5.4        the Lua to compare with (installed with apt-get if missing)
#   SKIP_BUILD=1      do not run `cargo build --release -p rco-cli` first
#   RCO=PATH          benchmark this rco binary instead (implies SKIP_BUILD=1),
#                     e.g. a build of an older commit
#   BENCHES="loop fib collections"   which benchmarks to run (wall and
#                     callgrind tables), in this order
#   COLL_SIZE=1000000 size of collections for the timed runs: array length and
#                     string length; the map gets COLL_SIZE/10 keys
#   WALL=0            skip the wall-time table (e.g. to run only CALLGRIND=1)
#   CALLGRIND=1       also count instructions (Ir) under valgrind's callgrind, on
#                     smaller sizes: LOOP_SMALL (default 1000000), FIB_SMALL
#                     (default 22) and COLL_SMALL (default 100000). Each program
#                     is also run with size 0 and the difference ("net Ir")
#                     removes interpreter start-up.
#
# Every program prints its result; the script checks it against the expected
# value, so a wrong answer never produces a time.
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RUNS=${RUNS:-3}
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x /usr/bin/python3 ]]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
LUA=${LUA:-lua5.4}
LOOP_SMALL=${LOOP_SMALL:-1000000}
FIB_SMALL=${FIB_SMALL:-22}
COLL_SIZE=${COLL_SIZE:-1000000}
COLL_SMALL=${COLL_SMALL:-100000}
read -ra BENCH_LIST <<<"${BENCHES:-loop fib collections}"
for bench in "${BENCH_LIST[@]}"; do
  case $bench in loop | fib | collections) ;; *) echo "error: unknown benchmark '$bench' in BENCHES" >&2; exit 1 ;; esac
done
if [[ -n "${RCO:-}" ]]; then
  SKIP_BUILD=1
  RCO_DESC="$RCO"
else
  RCO="$ROOT/target/release/rco"
  # shellcheck disable=SC2015
  RCO_DESC="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$ROOT" && [[ -n $(git status --porcelain lang cli src 2>/dev/null) ]] && echo ' plus uncommitted changes in lang/, cli/ or src/' || true)"
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

log() { echo "$*" >&2; }

# ---------------------------------------------------------------- set-up
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building rco (release)..."
  # the tree is shared: a failed build may be someone else's edit in progress
  for try in 1 2 3; do
    (cd "$ROOT" && cargo build --release -p rco-cli >&2) && break
    [[ $try == 3 ]] && { log "error: the build failed 3 times"; exit 1; }
    log "build failed; retrying in 60 s..."
    sleep 60
  done
fi
[[ -x "$RCO" ]] || { log "error: $RCO not found"; exit 1; }

if ! command -v "$LUA" >/dev/null 2>&1; then
  if [[ "$LUA" == lua5.4 && $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "lua5.4 missing: installing the Debian package lua5.4..."
    apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lua5.4 >&2
  fi
  command -v "$LUA" >/dev/null 2>&1 || { log "error: $LUA not found (apt-get install lua5.4)"; exit 1; }
fi
command -v "$PYTHON" >/dev/null 2>&1 || { log "error: $PYTHON not found"; exit 1; }
# the real interpreter, not a wrapper such as a pyenv shim (a shell script
# that would add its start-up to every run and hide python from valgrind)
PYTHON=$("$PYTHON" -c 'import sys; print(sys.executable)')
LUA=$(readlink -f "$(command -v "$LUA")")

# expected output for a benchmark at a size
expected() {
  case $1 in
    loop) echo $(($2 * ($2 - 1) / 2)) ;;
    fib) local a=0 b=1 i t
      for ((i = 0; i < $2; i++)); do t=$((a + b)); a=$b; b=$t; done
      echo $a ;;
    collections) # sum of 0..n-1, multiples of 3 among 2*(0..n-1), sum of
      # 0..n/10-1, pieces and length of "a,b," repeated n/4 times
      local n=$2 m=$(($2 / 10)) q=$(($2 / 4))
      echo "$((n * (n - 1) / 2)) $(((n + 2) / 3)) $((m * (m - 1) / 2)) $((2 * q + 1)) $((4 * q))" ;;
  esac
}

# the command line of implementation $1 for benchmark $2 (size $3, optional)
command_for() {
  local impl=$1 bench=$2 size=${3:-}
  case $impl in
    rco) echo "$RCO run $HERE/$bench.rco $size" ;;
    python) echo "$PYTHON $HERE/$bench.py $size" ;;
    lua) echo "$LUA $HERE/$bench.lua $size" ;;
    *) echo "$impl run $HERE/$bench.rco $size" ;; # a path to another rco binary
  esac
}

# run once and print "wall cpu" in seconds (cpu = user + sys); checks the output
# (size $4 is optional: the program's default size)
time_once() {
  local impl=$1 bench=$2 want=$3 size=${4:-} out t
  local TIMEFORMAT='%3R %3U %3S'
  # shellcheck disable=SC2046,SC2091
  { time $(command_for "$impl" "$bench" "$size") >"$TMP/out" 2>"$TMP/err"; } 2>"$TMP/time" || {
    log "error: $impl $bench failed: $(cat "$TMP/err")"
    exit 1
  }
  out=$(cat "$TMP/out")
  if [[ "$out" != "$want" ]]; then
    log "error: $impl $bench printed '$out', expected '$want'"
    exit 1
  fi
  awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' "$TMP/time"
}

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
commas() { echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", (a - b) * 100 / b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
echo "Machine: $(nproc) cores, $cpu; $(uname -sr)"
echo "Versions: $("$PYTHON" --version 2>&1) ($PYTHON), $("$LUA" -v 2>&1 | awk '{print $1, $2}') ($LUA), rco $RCO_DESC"
echo "Runs: $RUNS per program (alternating implementations), median"
echo

# ---------------------------------------------------------------- wall time
declare -A T C
[[ "${WALL:-1}" == 0 ]] || {
for bench in "${BENCH_LIST[@]}"; do
  case $bench in loop) size=30000000 ;; fib) size=32 ;; collections) size=$COLL_SIZE ;; esac
  want=$(expected "$bench" "$size")
  for impl in rco python lua; do : >"$TMP/$bench.$impl"; done
  for ((r = 1; r <= RUNS; r++)); do
    for impl in rco python lua; do
      t=$(time_once $impl "$bench" "$want" "$size")
      log "  $bench $impl run $r: wall, cpu $t s"
      echo "$t" >>"$TMP/$bench.$impl"
    done
  done
  for impl in rco python lua; do
    T[$bench.$impl]=$(awk '{ print $1 }' "$TMP/$bench.$impl" | median)
    C[$bench.$impl]=$(awk '{ print $2 }' "$TMP/$bench.$impl" | median)
  done
done

label_of() {
  case $1 in
    loop) echo "loop (30,000,000 iterations)" ;;
    fib) echo "fib 32 (7,049,155 calls)" ;;
    collections) echo "collections ($(commas "$COLL_SIZE") items, $(commas $((COLL_SIZE / 10))) keys, $(commas "$COLL_SIZE") chars)" ;;
  esac
}
echo "Wall time (median of $RUNS; ratios are what we report):"
echo
echo "| benchmark | rco (s) | CPython (s) | Lua 5.4 (s) | rco/CPython | rco/Lua |"
echo "|---|---:|---:|---:|---:|---:|"
for bench in "${BENCH_LIST[@]}"; do
  echo "| $(label_of "$bench") | ${T[$bench.rco]} | ${T[$bench.python]} | ${T[$bench.lua]} | $(ratio "${T[$bench.rco]}" "${T[$bench.python]}") | $(ratio "${T[$bench.rco]}" "${T[$bench.lua]}") |"
done
echo
echo "CPU time, user + sys (median of $RUNS; less sensitive to other load on the machine):"
echo
echo "| benchmark | rco (s) | CPython (s) | Lua 5.4 (s) | rco/CPython | rco/Lua |"
echo "|---|---:|---:|---:|---:|---:|"
for bench in "${BENCH_LIST[@]}"; do
  echo "| $(label_of "$bench") | ${C[$bench.rco]} | ${C[$bench.python]} | ${C[$bench.lua]} | $(ratio "${C[$bench.rco]}" "${C[$bench.python]}") | $(ratio "${C[$bench.rco]}" "${C[$bench.lua]}") |"
done
echo
echo "Targets (issue 15): loop and fib rco/Lua <= 1.00 and rco/CPython <= 0.50; collections rco/Lua <= 1.00."
}

# ---------------------------------------------------------------- callgrind
# Ir of one run: implementation, benchmark, size
ir_of() {
  local out="$TMP/cg.out" got
  rm -f "$out"
  # shellcheck disable=SC2046
  got=$(valgrind --tool=callgrind --callgrind-out-file="$out" $(command_for "$1" "$2" "$3") 2>/dev/null)
  if [[ "$got" != "$(expected "$2" "$3")" ]]; then
    log "error: under callgrind, $1 $2 $3 printed '$got'"
    exit 1
  fi
  awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

per() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
fib_calls() { local a=0 b=1 i t; for ((i = 0; i <= $1; i++)); do t=$((a + b)); a=$b; b=$t; done; echo $((2 * a - 1)); }

if [[ "${CALLGRIND:-0}" == 1 ]]; then
  if ! command -v valgrind >/dev/null 2>&1; then
    echo
    echo "CALLGRIND=1 but valgrind is not installed (apt-get install valgrind): skipped."
  else
    echo
    echo "Instruction counts (valgrind --tool=callgrind, Ir). Net = Ir(size) - Ir(size 0), i.e. without start-up."
    echo
    echo "| benchmark | Ir rco | Ir CPython | Ir Lua 5.4 | net Ir rco | net Ir CPython | net Ir Lua 5.4 | net rco/CPython | net rco/Lua | rco Ir per unit |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for bench in "${BENCH_LIST[@]}"; do
      case $bench in
        loop) size=$LOOP_SMALL; units=$LOOP_SMALL; label="loop $LOOP_SMALL"; unit=iteration ;;
        fib) size=$FIB_SMALL; units=$(fib_calls "$FIB_SMALL"); label="fib $FIB_SMALL"; unit=call ;;
        collections) size=$COLL_SMALL; units=$COLL_SMALL; label="collections $COLL_SMALL"; unit=item ;;
      esac
      declare -A I N
      for impl in rco python lua; do
        log "  callgrind $bench $impl..."
        I[$impl]=$(ir_of $impl "$bench" "$size")
        N[$impl]=$((I[$impl] - $(ir_of $impl "$bench" 0)))
      done
      echo "| $label | ${I[rco]} | ${I[python]} | ${I[lua]} | ${N[rco]} | ${N[python]} | ${N[lua]} | $(ratio "${N[rco]}" "${N[python]}") | $(ratio "${N[rco]}" "${N[lua]}") | $(per "${N[rco]}" "$units") per $unit |"
    done
  fi
fi
