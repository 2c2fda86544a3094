#!/usr/bin/env bash
# bench/tcp/ir.sh: instructions the echo server (bench/tcp/echo.rco, or
# with PROTO=ws bench/ws/echo.rco) spends per round trip, counted by
# callgrind, so a change to the socket path can be measured without the
# noise of timing: the server's total with ROUNDS lockstep rounds on CONNS
# connections (ir_client.py beside the script), minus its total with none,
# divided by ROUNDS x CONNS. One worker; the client is Python, outside the
# count.
#
# Usage: bench/tcp/ir.sh [BIN ...]   (default target/release/rco; env:
#        PROTO [tcp] or ws, CONNS [50], ROUNDS [200]). Needs valgrind (and
#        for ws the Python `websockets` package). SPLIT=1 also prints where
#        they go (bench/tcp/ir_split.py: the round trip's entry points,
#        inclusive, and each crate's own instructions); ATOMICS=1 the
#        locked instructions per round trip, by site (bench/tcp/atomics.py;
#        needs objdump and addr2line).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE/../.."
PROTO=${PROTO:-tcp}
BENCH="$HERE/../$PROTO"
CONNS=${CONNS:-50}
ROUNDS=${ROUNDS:-200}
ulimit -n 20000
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Total instructions of one server run serving $2 rounds.
total() {
  local bin=$1 rounds=$2 port=$((31000 + RANDOM % 1000)) out="$TMP/cg.$RANDOM"
  local instr=()
  [ "${ATOMICS:-0}" = 1 ] && instr=(--dump-instr=yes)
  RCO_WORKERS=1 valgrind --tool=callgrind "${instr[@]}" --callgrind-out-file="$out" "$bin" run --allow-sockets \
    --max-sockets 20000 "$BENCH/echo.rco" "$port" >/dev/null 2>&1 &
  local vg=$!
  python3 "$BENCH/ir_client.py" "$port" "$CONNS" "$rounds"
  sleep 0.5
  callgrind_control -d "$vg" >/dev/null 2>&1
  sleep 0.5
  kill -KILL "$vg"
  wait "$vg" 2>/dev/null || true
  cp "$out.1" "$TMP/last.$rounds"
  callgrind_annotate "$out.1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}

for bin in "${@:-target/release/rco}"; do
  base=$(total "$bin" 0)
  full=$(total "$bin" "$ROUNDS")
  echo "$bin: $(( (full - base) / (ROUNDS * CONNS) )) instructions per $PROTO round trip ($CONNS connections x $ROUNDS rounds)"
  if [ "${SPLIT:-0}" = 1 ]; then
    python3 "$HERE/ir_split.py" "$TMP/last.0" "$TMP/last.$ROUNDS" $((ROUNDS * CONNS))
  fi
  if [ "${ATOMICS:-0}" = 1 ]; then
    python3 "$HERE/atomics.py" "$bin" "$TMP/last.0" "$TMP/last.$ROUNDS" $((ROUNDS * CONNS))
  fi
done
