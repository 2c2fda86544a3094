#!/usr/bin/env bash
# bench/tcp/cachesim.sh: the echo server's instructions and simulated cache
# misses at many connections, where its cost is less instructions than
# cache misses (bench/tcp/ir.sh counts 50 connections, which fit in any
# cache). Runs bench/tcp/echo.rco under cachegrind with the caches of the
# benchmark machine's core (L1 data and instructions 32 KiB, its 1 MiB L2
# as the last level) while ir_client.py runs ROUNDS lockstep rounds on
# CONNS connections, and prints cachegrind's totals; the per-function
# profile stays in OUT (cg_annotate OUT). One worker; the client is Python,
# outside the count. The totals include start-up and the connections'
# accepts: compare builds with the same CONNS and ROUNDS. TOOL=callgrind
# records the same run with callers (callgrind_annotate --tree=caller OUT:
# who calls the function that misses).
#
# Usage: bench/tcp/cachesim.sh BIN [OUT]   (env: CONNS [1000], ROUNDS [30],
#        TOOL [cachegrind] or callgrind)
# Needs valgrind.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE/../.."
BIN=$1
OUT=${2:-$(mktemp)}
PORT=$((31000 + RANDOM % 1000))
ulimit -n 20000
TOOL=${TOOL:-cachegrind}
RCO_WORKERS=1 valgrind --tool="$TOOL" --cache-sim=yes --I1=32768,8,64 --D1=32768,8,64 \
  --LL=1048576,16,64 --"$TOOL"-out-file="$OUT" "$BIN" run --allow-sockets --max-sockets 20000 \
  "$HERE/echo.rco" "$PORT" >/dev/null 2>"$OUT.log" &
VG=$!
for _ in $(seq 60); do
  sleep 0.5
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT)).close()" 2>/dev/null && break
done
python3 "$HERE/ir_client.py" "$PORT" "${CONNS:-1000}" "${ROUNDS:-30}"
kill -TERM "$VG"
for _ in $(seq 60); do
  kill -0 "$VG" 2>/dev/null || break
  sleep 0.5
done
wait "$VG" || true
echo "$BIN (${CONNS:-1000} connections x ${ROUNDS:-30} rounds):"
grep -E "I +refs|I1 +misses|D1 +misses|LLd misses" "$OUT.log" | sed 's/^==[0-9]*== /  /'
