#!/usr/bin/env bash
# bench/tcp/profile.sh: where rco's echo server spends its CPU under the
# benchmark's load (1000 connections, 64 B ping-pong; server on CPU 0,
# generator on CPU 1). Records SECONDS s of `perf record --call-graph dwarf`
# on the server after a warm-up and prints perf_categories.py's summary.
#
# Usage: bench/tcp/profile.sh          (env: RCO [target/release/rco],
#        SCRIPT [bench/tcp/echo.rco], SECONDS_ [3], PERF [/usr/bin/perf],
#        NICE [0]: as in run.sh; NATIVE=1 profiles the native server,
#        target/release/echo_native, instead: its samples go to
#        results/native-echo.*, for bench/tcp/kernel_calls.py to compare)
# Needs bench/tcp built (cargo build --release --manifest-path bench/tcp/Cargo.toml).
set -euo pipefail
NICE="${NICE:-0}"
if [ "$NICE" != 0 ] && [ -z "${TCP_BENCH_SESSION:-}" ]; then
    TCP_BENCH_SESSION=1 exec setsid -w "$0" "$@"
fi
[ "$NICE" != 0 ] && echo "$NICE" >/proc/self/autogroup
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE/../.."
RCO="${RCO:-target/release/rco}"
SCRIPT="${SCRIPT:-$HERE/echo.rco}"
SECS="${SECONDS_:-3}"
PERF="${PERF:-/usr/bin/perf}"
OUT="$HERE/results"
mkdir -p "$OUT"
ulimit -n 20000
PORT=$((30000 + RANDOM % 2000))
NAME=rco-echo
if [ "${NATIVE:-0}" = 1 ]; then
    NAME=native-echo
    taskset -c 0 "$HERE/target/release/echo_native" "$PORT" >"$OUT/profile-server.log" 2>&1 &
else
    taskset -c 0 "$RCO" run --allow-sockets --max-sockets 20000 "$SCRIPT" "$PORT" >"$OUT/profile-server.log" 2>&1 &
fi
P=$!
sleep 0.5
taskset -c 1 "$HERE/target/release/loadgen" pingpong --addr "127.0.0.1:$PORT" --conns 1000 \
    --warmup 3 --duration $((SECS + 3)) --pid "$P" >"$OUT/profile-gen.json" &
L=$!
sleep 4
"$PERF" record -F 1999 --call-graph dwarf,16384 -p "$P" -o "$OUT/$NAME.perf" -- sleep "$SECS" 2>/dev/null
wait "$L" || true
kill "$P"
wait "$P" 2>/dev/null || true
cat "$OUT/profile-gen.json"
"$PERF" script -i "$OUT/$NAME.perf" -F comm,tid,ip,sym,dso 2>/dev/null >"$OUT/$NAME.script"
python3 "$HERE/perf_categories.py" "$OUT/$NAME.script"
"$PERF" report -i "$OUT/$NAME.perf" --no-children --sort comm,dso --stdio 2>/dev/null | grep '%' | head -8
