#!/usr/bin/env bash
# bench/tcp/syscalls.sh: system calls per round trip of an echo server under
# the benchmark's load: `perf stat` counts recvfrom, sendto, epoll_ctl,
# epoll_pwait, read (polling's eventfd), madvise (an allocator giving
# memory back) and page faults for SECONDS_ s, divided by the
# round trips loadgen counted over the same server's window. For the
# native server, pass bench/tcp/target/release/echo_native as SERVER.
#
# Usage: bench/tcp/syscalls.sh [SERVER]   (default target/release/rco)
#        env: CONNS [1000], SECONDS_ [2]; needs perf with tracepoints and
#        bench/tcp built.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE/../.."
SERVER="${1:-target/release/rco}"
SECS="${SECONDS_:-2}"
ulimit -n 20000
PORT=$((30000 + RANDOM % 2000))
case "$SERVER" in
  *echo_native) taskset -c 0 "$SERVER" "$PORT" >/dev/null 2>&1 & ;;
  *) taskset -c 0 "$SERVER" run --allow-sockets --max-sockets 20000 "$HERE/echo.rco" "$PORT" >/dev/null 2>&1 & ;;
esac
P=$!
sleep 0.5
GEN=$(mktemp)
STAT=$(mktemp)
trap 'rm -f "$GEN" "$STAT"; kill "$P" 2>/dev/null || true' EXIT
# Count during the generator's measured window: warm-up 2 s, window SECS + 2 s.
taskset -c 1 "$HERE/target/release/loadgen" pingpong --addr "127.0.0.1:$PORT" --conns "${CONNS:-1000}" \
  --warmup 2 --duration $((SECS + 2)) --pid "$P" >"$GEN" &
L=$!
sleep 3
perf stat -x, -e 'syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_read,syscalls:sys_enter_madvise,page-faults' \
  -p "$P" -- sleep "$SECS" 2>"$STAT"
wait "$L"
python3 - "$GEN" "$STAT" "$SECS" <<'PY'
import json, sys
gen = json.load(open(sys.argv[1]))
per_second = gen["rt_per_s"]
secs = float(sys.argv[3])
print(f"round trips/s {per_second}")
for line in open(sys.argv[2]):
    parts = line.strip().split(",")
    if len(parts) > 2 and (parts[2].startswith("syscalls:sys_enter_") or parts[2] == "page-faults"):
        count = float(parts[0])
        print(f"{parts[2].removeprefix('syscalls:sys_enter_'):12} {count / (per_second * secs):.3f} per round trip")
PY
