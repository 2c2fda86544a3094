#!/usr/bin/env bash
# bench/tcp/ab.sh: A/B of rco binaries on the TCP echo benchmark. Runs
# bench/tcp/echo.rco under each binary in turn, REPS times alternating
# (server on CPU 0, loadgen on CPU 1), and prints per run: binary, round
# trips per second, user and sys µs per round trip.
#
# Usage: bench/tcp/ab.sh BIN_A BIN_B [...]   (env: REPS [3], CONNS [1000],
#        DURATION [4], WARMUP [2])
# Needs bench/tcp built (cargo build --release --manifest-path bench/tcp/Cargo.toml).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE/../.."
ulimit -n 20000
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
for _ in $(seq "${REPS:-3}"); do
  for bin in "$@"; do
    PORT=$((30000 + RANDOM % 2000))
    taskset -c 0 "$bin" run --allow-sockets --max-sockets 20000 "$HERE/echo.rco" "$PORT" >/dev/null 2>&1 &
    P=$!
    sleep 0.4
    taskset -c 1 "$HERE/target/release/loadgen" pingpong --addr "127.0.0.1:$PORT" --conns "${CONNS:-1000}" \
      --warmup "${WARMUP:-2}" --duration "${DURATION:-4}" --pid "$P" >"$OUT" 2>/dev/null
    kill "$P"
    wait "$P" 2>/dev/null || true
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(sys.argv[2], d['rt_per_s'], d['user_us_per_rt'], d['sys_us_per_rt'])" "$OUT" "$bin"
  done
done
