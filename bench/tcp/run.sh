#!/usr/bin/env bash
# bench/tcp/run.sh: the TCP echo benchmark (issue "The reactor: TCP words",
# part 6). rco's echo server (echo.rco) against a native Rust `polling`
# server (src/bin/echo_native.rs), Node `net` (echo.js) and Python asyncio
# (echo.py), all under the same load generator (src/bin/loadgen.rs).
#
# Usage: bench/tcp/run.sh [throughput|memory|all]      (default: all)
#
#   throughput: CONNS connections ping-pong SIZE-byte messages (write SIZE
#     bytes, read until SIZE bytes came back, repeat). After WARMUP s the
#     generator counts round trips for DURATION s and reads the server's
#     utime/stime from /proc/PID/stat at the start and end of that window.
#     Servers alternate (the order rotates every repetition); RUNS reps.
#   memory: VmRSS of a fresh server with 0 connections, then with
#     IDLE_CONNS connections open, each having done one SIZE-byte round trip
#     and then idle; (RSS_N - RSS_0) / N. RUNS reps, alternating.
#
# Environment (defaults in brackets):
#   RUNS [3]  DURATION [10]  WARMUP [3]  CONNS [1000]  SIZE [64]
#   IDLE_CONNS [10000]  SERVERS ["native rco node python"]; also known:
#     native-again (the native server once more in each repetition: the
#     spread of the ratio of two runs of one binary, the noise floor of
#     every per-repetition ratio; `SERVER=native-again PEER=native
#     METRIC=rate bench/tcp/ratios.py FILE`),
#     rco-thread (echo.rco with RCO_REACTOR=thread: the reactor on a
#     thread of its own instead of polled by the idle worker),
#     rco-64k (echo.rco reading with max_bytes 65536, tcp_read's default),
#     rco-tracked (echo_tracked.rco: echo.rco keeping every connection
#     id in an array),
#     python-streams (asyncio streams instead of a Protocol); for the memory
#     phase only (they do not echo): rco-accept-only (diag/accept_only.rco),
#     rco-accept-sleep (diag/accept_sleep.rco); and rco-64 (echo.rco with
#     max_bytes 64)
#   PIN [1]: server on CPU 0, generator on CPU 1 (taskset); PIN=0: no pinning
#   NICE [0]: e.g. -10 (needs root): the script re-executes itself in a new
#     session (setsid) and gives that session's scheduler autogroup this nice
#     value, so that on a shared machine other sessions' jobs (compiles) do
#     not take most of the CPU during the run. (With autogroups enabled,
#     `nice` alone only ranks processes within one session.)
#   RCO [target/release/rco]  NODE [node]  PYTHON [/usr/bin/python3]
#   SKIP_BUILD [0]: 1 = do not run cargo build
#   OUT [bench/tcp/results]: raw JSON lines (one per run) are appended there
#
# Output: progress on stderr, Markdown tables on stdout.
set -euo pipefail

NICE="${NICE:-0}"
if [ "$NICE" != 0 ] && [ -z "${TCP_BENCH_SESSION:-}" ]; then
    TCP_BENCH_SESSION=1 exec setsid -w "$0" "$@"
fi
if [ "$NICE" != 0 ]; then
    echo "$NICE" >/proc/self/autogroup
fi

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

PHASE="${1:-all}"
RUNS="${RUNS:-3}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-3}"
CONNS="${CONNS:-1000}"
SIZE="${SIZE:-64}"
IDLE_CONNS="${IDLE_CONNS:-10000}"
SERVERS="${SERVERS:-native rco node python}"
PIN="${PIN:-1}"
RCO="${RCO:-target/release/rco}"
NODE="${NODE:-node}"
PYTHON="${PYTHON:-/usr/bin/python3}"
OUT="${OUT:-$HERE/results}"
GEN="$HERE/target/release/loadgen"
NATIVE="$HERE/target/release/echo_native"

log() { echo "[tcp-bench $(date +%H:%M:%S)] $*" >&2; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building rco and the benchmark programs"
    cargo build --release -p rco-cli >&2
    cargo build --release --manifest-path "$HERE/Cargo.toml" >&2
fi
[ "$(getconf CLK_TCK)" = 100 ] || { echo "loadgen assumes USER_HZ = 100" >&2; exit 1; }

# Both the servers and the generator inherit this (the hard limit here is
# 20000; rco raises its soft limit to the hard one by itself anyway).
ulimit -n 20000

if [ "$PIN" = 1 ]; then
    SRV_PIN=(taskset -c 0)
    GEN_PIN=(taskset -c 1)
else
    SRV_PIN=()
    GEN_PIN=()
fi

mkdir -p "$OUT"
STAMP="$(date +%Y%m%d-%H%M%S)"
RAW="$OUT/$STAMP-$PHASE.jsonl"
SRVLOG="$OUT/$STAMP-server.log"
: >"$RAW"

# Ports 21000-29999, a fresh one per server start (no TIME_WAIT clashes).
PORT=$((21000 + RANDOM % 4000))

SERVER_PID=""
start_server() { # NAME -> sets SERVER_PID; waits for "listening"
    local name="$1"
    PORT=$((PORT + 1))
    : >"$SRVLOG"
    case "$name" in
        native | native-again) "${SRV_PIN[@]}" "$NATIVE" "$PORT" >"$SRVLOG" 2>&1 & ;;
        rco) "${SRV_PIN[@]}" "$RCO" run --allow-sockets --max-sockets 20000 "$HERE/echo.rco" "$PORT" >"$SRVLOG" 2>&1 & ;;
        rco-thread) RCO_REACTOR=thread "${SRV_PIN[@]}" "$RCO" run --allow-sockets --max-sockets 20000 "$HERE/echo.rco" "$PORT" >"$SRVLOG" 2>&1 & ;;
        rco-64k) "${SRV_PIN[@]}" "$RCO" run --allow-sockets --max-sockets 20000 "$HERE/echo.rco" "$PORT" 65536 >"$SRVLOG" 2>&1 & ;;
        rco-tracked) "${SRV_PIN[@]}" "$RCO" run --allow-sockets --max-sockets 20000 "$HERE/echo_tracked.rco" "$PORT" >"$SRVLOG" 2>&1 & ;;
        rco-64) "${SRV_PIN[@]}" "$RCO" run --allow-sockets --max-sockets 20000 "$HERE/echo.rco" "$PORT" 64 >"$SRVLOG" 2>&1 & ;;
        rco-accept-only) "${SRV_PIN[@]}" "$RCO" run --allow-sockets --max-sockets 20000 "$HERE/diag/accept_only.rco" "$PORT" >"$SRVLOG" 2>&1 & ;;
        rco-accept-sleep) "${SRV_PIN[@]}" "$RCO" run --allow-sockets --max-sockets 20000 "$HERE/diag/accept_sleep.rco" "$PORT" >"$SRVLOG" 2>&1 & ;;
        node) "${SRV_PIN[@]}" "$NODE" "$HERE/echo.js" "$PORT" >"$SRVLOG" 2>&1 & ;;
        python) "${SRV_PIN[@]}" "$PYTHON" "$HERE/echo.py" "$PORT" protocol >"$SRVLOG" 2>&1 & ;;
        python-streams) "${SRV_PIN[@]}" "$PYTHON" "$HERE/echo.py" "$PORT" streams >"$SRVLOG" 2>&1 & ;;
        *) echo "unknown server $name" >&2; exit 2 ;;
    esac
    SERVER_PID=$!
    for _ in $(seq 100); do
        grep -q listening "$SRVLOG" && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "server $name did not start:" >&2
    cat "$SRVLOG" >&2
    exit 1
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    if grep -qiE 'panic|error' "$SRVLOG"; then
        log "server log of the last run:"
        cat "$SRVLOG" >&2
    fi
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# Max of 3 VmRSS samples 0.5 s apart.
rss_sample() {
    local m=0 r
    for _ in 1 2 3; do
        r="$(rss_kb "$1")"
        [ "$r" -gt "$m" ] && m="$r"
        sleep 0.5
    done
    echo "$m"
}

# The server order of repetition $1 (rotated, so each server runs in every
# position once every N reps).
order() {
    local rep="$1" arr
    read -r -a arr <<<"$SERVERS"
    local n=${#arr[@]} i
    for ((i = 0; i < n; i++)); do
        echo "${arr[$(((i + rep) % n))]}"
    done
}

throughput() {
    log "throughput: $RUNS reps x [$SERVERS], $CONNS connections, $SIZE B, warmup $WARMUP s, $DURATION s each"
    for rep in $(seq 0 $((RUNS - 1))); do
        for name in $(order "$rep"); do
            start_server "$name"
            log "rep $((rep + 1)) $name (pid $SERVER_PID, port $PORT, load $(cut -d' ' -f1 /proc/loadavg))"
            local line rc=0
            line="$("${GEN_PIN[@]}" "$GEN" pingpong --addr "127.0.0.1:$PORT" --conns "$CONNS" --size "$SIZE" \
                --warmup "$WARMUP" --duration "$DURATION" --pid "$SERVER_PID")" || rc=$?
            local load
            load="$(cut -d' ' -f1 /proc/loadavg)"
            stop_server
            [ "$rc" = 0 ] || log "generator exit status $rc for $name: $line"
            echo "{\"server\":\"$name\",\"rep\":$rep,\"load\":$load,\"gen_status\":$rc,\"result\":$line}" >>"$RAW"
            log "  $line"
        done
    done
}

memory() {
    log "memory: $RUNS reps x [$SERVERS], $IDLE_CONNS idle connections"
    local hold_out="$OUT/$STAMP-hold.out"
    for rep in $(seq 0 $((RUNS - 1))); do
        for name in $(order "$rep"); do
            start_server "$name"
            sleep 1
            local rss0 rssn fds line gen_pid ok=0
            rss0="$(rss_sample "$SERVER_PID")"
            : >"$hold_out"
            local ping=1
            case "$name" in rco-accept-*) ping=0 ;; esac
            "${GEN_PIN[@]}" "$GEN" hold --addr "127.0.0.1:$PORT" --conns "$IDLE_CONNS" --size "$SIZE" --hold 300 \
                --ping "$ping" >"$hold_out" &
            gen_pid=$!
            for _ in $(seq 1200); do # up to 120 s to connect and echo once
                if grep -q held "$hold_out"; then ok=1; break; fi
                kill -0 "$gen_pid" 2>/dev/null || break
                sleep 0.1
            done
            line="$(cat "$hold_out")"
            if [ "$ok" = 1 ]; then
                # Every connection accepted (servers that do not echo).
                for _ in $(seq 600); do
                    [ "$(ls "/proc/$SERVER_PID/fd" | wc -l)" -ge "$IDLE_CONNS" ] && break
                    sleep 0.1
                done
                sleep 2
                rssn="$(rss_sample "$SERVER_PID")"
            else
                rssn=0
                log "hold failed for $name: $line"
            fi
            fds="$(ls "/proc/$SERVER_PID/fd" | wc -l)"
            kill "$gen_pid" 2>/dev/null || true
            wait "$gen_pid" 2>/dev/null || true
            stop_server
            echo "{\"server\":\"$name\",\"rep\":$rep,\"conns\":$IDLE_CONNS,\"rss0_kb\":$rss0,\"rssn_kb\":$rssn,\"fds\":$fds,\"ok\":$ok,\"hold\":${line:-null}}" >>"$RAW"
            log "rep $((rep + 1)) $name: RSS $rss0 kB -> $rssn kB with $IDLE_CONNS connections ($fds fds): $(((rssn - rss0) * 1024 / IDLE_CONNS)) B/conn"
            sleep 1
        done
    done
}

report() {
    "$PYTHON" - "$RAW" "$1" <<'EOF'
import json, statistics, sys
raw, phase = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(raw) if l.strip()]
servers = []
for r in rows:
    if r["server"] not in servers:
        servers.append(r["server"])
def med(xs):
    return statistics.median(xs) if xs else float("nan")
def rng(xs, fmt):
    return (fmt % min(xs)) + "–" + (fmt % max(xs)) if len(xs) > 1 else ""
if phase == "throughput":
    native = {r["rep"]: r["result"]["rt_per_s"] for r in rows if r["server"] == "native"}
    print("| server | rt/s (median) | range | ratio to native (median of per-rep) | user µs/rt | sys µs/rt | p50 / p99 rtt (ms) | failed | load avg |")
    print("|---|---:|---|---:|---:|---:|---|---:|---|")
    for s in servers:
        rs = [r for r in rows if r["server"] == s]
        res = [r["result"] for r in rs]
        rts = [x["rt_per_s"] for x in res]
        ratios = [r["result"]["rt_per_s"] / native[r["rep"]] for r in rs if native.get(r["rep"])]
        print("| %s | %.0f | %s | %s | %.2f (%s) | %.2f | %.1f / %.1f | %d | %s |" % (
            s, med(rts), rng(rts, "%.0f"),
            ("%.2f (%s)" % (med(ratios), rng(ratios, "%.2f"))) if ratios else "n/a",
            med([x["user_us_per_rt"] for x in res]), rng([x["user_us_per_rt"] for x in res], "%.2f"),
            med([x["sys_us_per_rt"] for x in res]),
            med([x["p50_us"] for x in res]) / 1000, med([x["p99_us"] for x in res]) / 1000,
            sum(x["failed"] + x["bad_echo"] for x in res),
            ", ".join("%.1f" % r["load"] for r in rs)))
else:
    print("| server | VmRSS 0 conns (kB) | VmRSS %s conns (kB) | bytes per idle connection (median) | range | all echoed |" % rows[0]["conns"])
    # (rco-accept-* servers do not echo: their connections are only held.)
    print("|---|---:|---:|---:|---|---|")
    for s in servers:
        rs = [r for r in rows if r["server"] == s and r["ok"] == 1]
        per = [(r["rssn_kb"] - r["rss0_kb"]) * 1024 / r["conns"] for r in rs]
        allok = all(r["hold"]["echoed"] == r["conns"] or s.startswith("rco-accept") for r in rs) and len(rs) == len([r for r in rows if r["server"] == s])
        print("| %s | %.0f | %.0f | %.0f | %s | %s |" % (
            s, med([r["rss0_kb"] for r in rs]), med([r["rssn_kb"] for r in rs]), med(per),
            rng(per, "%.0f"), "yes" if allok else "NO"))
EOF
}

log "pinning: PIN=$PIN; scheduler autogroup: $(cat /proc/self/autogroup 2>/dev/null || echo '?')"
log "machine: nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
log "rco: $("$RCO" --version 2>/dev/null || echo '?'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
log "raw results: $RAW"
case "$PHASE" in
    throughput) throughput; report throughput ;;
    memory) memory; report memory ;;
    all)
        throughput; report throughput
        RAW="$OUT/$STAMP-memory.jsonl"; : >"$RAW"
        memory; report memory ;;
    *) echo "usage: $0 [throughput|memory|all]" >&2; exit 2 ;;
esac
