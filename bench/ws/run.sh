#!/usr/bin/env bash
# bench/ws/run.sh: the WebSocket echo benchmark (issue "WebSockets over the
# reactor", part 5; PERFORMANCE.md B4 and the WS rows of §3.2). rco's echo
# server (echo.rco) against a native Rust `tungstenite` server on a `polling`
# loop (src/bin/ws_native.rs) and Node `ws` (echo.js), all under the same
# load generator (src/bin/wsgen.rs: `tungstenite` clients, one thread, one
# `polling` loop). Mirrors bench/tcp/run.sh.
#
# Usage: bench/ws/run.sh [throughput|memory|wss|all]      (default: all)
#
#   throughput: for each CONNS in CONNS_LIST, CONNS connections ping-pong a
#     SIZE-byte text message (send, wait for the echo, repeat). After WARMUP
#     s the generator counts round trips for DURATION s and reads the
#     server's utime/stime from /proc/PID/stat over that window. Servers
#     alternate (the order rotates every repetition); RUNS reps.
#   memory: VmRSS of a fresh server with 0 connections, then with
#     IDLE_CONNS WebSocket connections open, each having done one SIZE-byte
#     round trip and then idle; (RSS_N - RSS_0) / N. RUNS reps, alternating.
#   wss: throughput over TLS (issue 13: rco >= 0.8x native, ahead of Node),
#     CONNS_LIST default "100". The same servers with TLS: ws_native PORT
#     CERT KEY (rustls 0.23, ring, driven sans-I/O on its polling loop),
#     echo_tls.rco (tls_cert_file / tls_key_file in ws_listen's options),
#     echo_tls.js (https.createServer + ws); the generator runs a full
#     rustls handshake per connection (no resumption) trusting the run's own
#     CA. Certificates: a P-256 CA and a P-256 leaf for 127.0.0.1/localhost,
#     made by openssl for each invocation in a temporary directory (removed at
#     exit). A server that does not start (e.g. an rco without TLS listeners)
#     is reported in the table with its error, and the run goes on.
#   all: throughput, memory, then wss (wss adds about a third to the time).
#
# Environment (defaults in brackets):
#   RUNS [3]  DURATION [10]  WARMUP [3]  CONNS_LIST ["100 1000"; wss: "100"]  SIZE [64]
#   IDLE_CONNS [2000]  SERVERS ["native rco node"]
#   PIN [1]: server on CPU 0, generator on CPU 1 (taskset); PIN=0: no pinning
#   NICE [0]: e.g. -10 (needs root): re-executes in a new session whose
#     scheduler autogroup gets this nice value (see bench/tcp/run.sh)
#   RCO [target/release/rco]  NODE [node]  PYTHON [/usr/bin/python3]
#   SKIP_BUILD [0]: 1 = do not build (rco itself is never built here)
#   OUT [bench/ws/results]: raw JSON lines (one per run) are appended there
#
# Needs `npm install` in bench/ws (the `ws` package, into node_modules/).
# Output: progress on stderr, Markdown tables on stdout.
set -euo pipefail

NICE="${NICE:-0}"
if [ "$NICE" != 0 ] && [ -z "${WS_BENCH_SESSION:-}" ]; then
    WS_BENCH_SESSION=1 exec setsid -w "$0" "$@"
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
CONNS_LIST_ENV="${CONNS_LIST:-}"
CONNS_LIST="${CONNS_LIST:-100 1000}"
SIZE="${SIZE:-64}"
IDLE_CONNS="${IDLE_CONNS:-2000}"
SERVERS="${SERVERS:-native rco node}"
PIN="${PIN:-1}"
RCO="${RCO:-target/release/rco}"
NODE="${NODE:-node}"
PYTHON="${PYTHON:-/usr/bin/python3}"
OUT="${OUT:-$HERE/results}"
GEN="$HERE/target/release/wsgen"
NATIVE="$HERE/target/release/ws_native"
TLS=0 # 1 in the wss phase: servers serve wss, the generator connects with TLS
TLS_DIR=""
CERT=""
KEY=""
CA=""

log() { echo "[ws-bench $(date +%H:%M:%S)] $*" >&2; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building the benchmark programs"
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

# The wss phase's certificates: a CA (the generator's only trust root) and
# a leaf for 127.0.0.1 and localhost signed by it, both ECDSA P-256; the
# servers get the leaf (CERT) and its PKCS#8 key (KEY).
make_certs() {
    [ -n "$TLS_DIR" ] && return 0
    TLS_DIR="$(mktemp -d "${TMPDIR:-/tmp}/rco-ws-tls.XXXXXX")"
    trap 'rm -rf "$TLS_DIR"' EXIT
    CA="$TLS_DIR/ca.pem"
    CERT="$TLS_DIR/server.pem"
    KEY="$TLS_DIR/server.key"
    local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    {
        openssl req -x509 "${ec[@]}" -keyout "$TLS_DIR/ca.key" -out "$CA" -days 2 -subj "/CN=rco bench ws CA" &&
        openssl req "${ec[@]}" -keyout "$KEY" -out "$TLS_DIR/server.csr" -subj "/CN=localhost" &&
        printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
            "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$TLS_DIR/leaf.ext" &&
        openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$CA" -CAkey "$TLS_DIR/ca.key" -CAcreateserial \
            -days 2 -extfile "$TLS_DIR/leaf.ext" -out "$CERT"
    } >"$TLS_DIR/openssl.log" 2>&1 || { cat "$TLS_DIR/openssl.log" >&2; echo "openssl failed" >&2; exit 1; }
    log "TLS: ECDSA P-256 leaf for 127.0.0.1 signed by a P-256 CA, in $TLS_DIR"
}

SERVER_PID=""
START_ERROR=""
start_server() { # NAME -> sets SERVER_PID and returns 0 once it says "listening"; else 1 and START_ERROR
    local name="$1"
    PORT=$((PORT + 1))
    : >"$SRVLOG"
    if [ "$TLS" = 1 ]; then
        case "$name" in
            native) "${SRV_PIN[@]}" "$NATIVE" "$PORT" "$CERT" "$KEY" >"$SRVLOG" 2>&1 & ;;
            rco) "${SRV_PIN[@]}" "$RCO" run --allow-sockets --max-sockets 20000 "$HERE/echo_tls.rco" "$PORT" "$CERT" "$KEY" >"$SRVLOG" 2>&1 & ;;
            node) "${SRV_PIN[@]}" "$NODE" "$HERE/echo_tls.js" "$PORT" "$CERT" "$KEY" >"$SRVLOG" 2>&1 & ;;
            *) echo "unknown server $name" >&2; exit 2 ;;
        esac
    else
        case "$name" in
            native) "${SRV_PIN[@]}" "$NATIVE" "$PORT" >"$SRVLOG" 2>&1 & ;;
            rco) "${SRV_PIN[@]}" "$RCO" run --allow-sockets --max-sockets 20000 "$HERE/echo.rco" "$PORT" >"$SRVLOG" 2>&1 & ;;
            node) "${SRV_PIN[@]}" "$NODE" "$HERE/echo.js" "$PORT" >"$SRVLOG" 2>&1 & ;;
            *) echo "unknown server $name" >&2; exit 2 ;;
        esac
    fi
    SERVER_PID=$!
    for _ in $(seq 100); do
        grep -q listening "$SRVLOG" && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    echo "server $name did not start:" >&2
    cat "$SRVLOG" >&2
    START_ERROR="$(head -c 400 "$SRVLOG")"
    [ -n "$START_ERROR" ] || START_ERROR="no output, no \"listening\" within 10 s"
    return 1
}

json_str() { "$PYTHON" -c 'import json, sys; print(json.dumps(sys.stdin.read().strip()))'; }

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
    local what=throughput gen_tls=()
    if [ "$TLS" = 1 ]; then
        what=wss
        gen_tls=(--tls-ca "$CA")
    fi
    log "$what: $RUNS reps x [$SERVERS] x connections [$CONNS_LIST], $SIZE B, warmup $WARMUP s, $DURATION s each"
    local gen_err="$OUT/$STAMP-gen.err"
    for rep in $(seq 0 $((RUNS - 1))); do
      for CONNS in $CONNS_LIST; do
        for name in $(order "$rep"); do
            if ! start_server "$name"; then
                log "rep $((rep + 1)) $name c=$CONNS: the server did not start"
                echo "{\"server\":\"$name\",\"rep\":$rep,\"conns\":$CONNS,\"result\":null,\"error\":$(printf 'server did not start: %s' "$START_ERROR" | json_str)}" >>"$RAW"
                continue
            fi
            log "rep $((rep + 1)) $name c=$CONNS (pid $SERVER_PID, port $PORT, load $(cut -d' ' -f1 /proc/loadavg))"
            local line rc=0
            # timeout: a server that accepts but never answers a handshake
            # (the generator's handshakes also time out after 10 s each).
            line="$(timeout -k 5 $((WARMUP + DURATION + 120)) "${GEN_PIN[@]}" "$GEN" pingpong --addr "127.0.0.1:$PORT" \
                --conns "$CONNS" --size "$SIZE" --warmup "$WARMUP" --duration "$DURATION" --pid "$SERVER_PID" \
                "${gen_tls[@]}" 2>"$gen_err")" || rc=$?
            local load
            load="$(cut -d' ' -f1 /proc/loadavg)"
            stop_server
            if [ "$rc" != 0 ]; then
                log "generator exit status $rc for $name: $line $(cat "$gen_err")"
            fi
            if [ "${line:0:1}" = "{" ]; then
                echo "{\"server\":\"$name\",\"rep\":$rep,\"conns\":$CONNS,\"load\":$load,\"gen_status\":$rc,\"result\":$line}" >>"$RAW"
            else
                [ "$rc" = 124 ] && echo "timed out" >>"$gen_err"
                echo "{\"server\":\"$name\",\"rep\":$rep,\"conns\":$CONNS,\"load\":$load,\"gen_status\":$rc,\"result\":null,\"error\":$(printf 'generator failed (status %s): %s' "$rc" "$(head -c 400 "$gen_err")" | json_str)}" >>"$RAW"
            fi
            log "  ${line:-(no result)}"
        done
      done
    done
}

memory() {
    log "memory: $RUNS reps x [$SERVERS], $IDLE_CONNS idle connections"
    local hold_out="$OUT/$STAMP-hold.out"
    for rep in $(seq 0 $((RUNS - 1))); do
        for name in $(order "$rep"); do
            start_server "$name" || exit 1
            sleep 1
            local rss0 rssn fds line gen_pid ok=0
            rss0="$(rss_sample "$SERVER_PID")"
            : >"$hold_out"
            "${GEN_PIN[@]}" "$GEN" hold --addr "127.0.0.1:$PORT" --conns "$IDLE_CONNS" --size "$SIZE" --hold 300 >"$hold_out" &
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
allrows = [json.loads(l) for l in open(raw) if l.strip()]
servers = []
for r in allrows:
    if r["server"] not in servers:
        servers.append(r["server"])
# Runs that produced no measurement (a server that did not start, a
# generator that failed to connect) are listed, not measured.
# (A memory run has no "result": its rows are all measurements.)
measured = lambda r: phase == "memory" or r.get("result") is not None
rows = [r for r in allrows if measured(r)]
errors = [r for r in allrows if not measured(r)]
def med(xs):
    return statistics.median(xs) if xs else float("nan")
def rng(xs, fmt):
    return (fmt % min(xs)) + "–" + (fmt % max(xs)) if len(xs) > 1 else ""
if phase in ("throughput", "wss"):
    if phase == "wss":
        # What the generator's first connection negotiated, per server.
        tls = {}
        for r in rows:
            tls.setdefault(r["server"], set()).add(str(r["result"].get("tls")))
        if len({t for ts in tls.values() for t in ts}) == 1:
            desc = next(iter(next(iter(tls.values()))))
        else:
            desc = "; ".join("%s: %s" % (s, ", ".join(sorted(ts))) for s, ts in tls.items())
        print("\n**wss** (negotiated: %s)" % (desc or "no TLS run completed"))
    for c in sorted({r["conns"] for r in allrows}):
        cr = [r for r in rows if r["conns"] == c]
        base = {n: {r["rep"]: r["result"]["rt_per_s"] for r in cr if r["server"] == n} for n in ("native", "node")}
        print("\n**%d connections%s**\n" % (c, ", wss" if phase == "wss" else ""))
        print("| server | rt/s (median) | range | ratio to native (median of per-rep; range) | ratio to node | server user µs/rt | server sys µs/rt | p50 / p99 rtt (ms) | generator CPU (cores) | failed | load avg |")
        print("|---|---:|---|---:|---:|---:|---:|---|---:|---:|---|")
        for s in servers:
            rs = [r for r in cr if r["server"] == s]
            errs = [r["error"] for r in errors if r["server"] == s and r["conns"] == c]
            if errs:
                # Flattened to one table cell.
                msg = " ".join(errs[0].replace("|", "/").split())
                print("| %s | **did not run** (%d of %d reps): %s |  |  |  |  |  |  |  |  |  |" % (
                    s, len(errs), len(errs) + len(rs), msg[:300]))
            if not rs:
                continue
            res = [r["result"] for r in rs]
            rts = [x["rt_per_s"] for x in res]
            def ratio(n):
                xs = [r["result"]["rt_per_s"] / base[n][r["rep"]] for r in rs if base[n].get(r["rep"])]
                return ("%.2f (%s)" % (med(xs), rng(xs, "%.2f"))) if xs else "n/a"
            print("| %s | %.0f | %s | %s | %s | %.2f (%s) | %.2f | %.1f / %.1f | %.2f | %d | %s |" % (
                s, med(rts), rng(rts, "%.0f"), ratio("native"), ratio("node"),
                med([x["user_us_per_rt"] for x in res]), rng([x["user_us_per_rt"] for x in res], "%.2f"),
                med([x["sys_us_per_rt"] for x in res]),
                med([x["p50_us"] for x in res]) / 1000, med([x["p99_us"] for x in res]) / 1000,
                med([x["client_cpu"] for x in res]),
                sum(x["failed"] + x["bad_echo"] for x in res),
                ", ".join("%.1f" % r["load"] for r in rs)))
else:
    print("| server | VmRSS 0 conns (kB) | VmRSS %s conns (kB) | bytes per idle connection (median) | range | all echoed |" % rows[0]["conns"])
    print("|---|---:|---:|---:|---|---|")
    for s in servers:
        rs = [r for r in rows if r["server"] == s and r["ok"] == 1]
        per = [(r["rssn_kb"] - r["rss0_kb"]) * 1024 / r["conns"] for r in rs]
        allok = all(r["hold"]["echoed"] == r["conns"] for r in rs) and len(rs) == len([r for r in rows if r["server"] == s])
        print("| %s | %.0f | %.0f | %.0f | %s | %s |" % (
            s, med([r["rss0_kb"] for r in rs]), med([r["rssn_kb"] for r in rs]), med(per),
            rng(per, "%.0f"), "yes" if allok else "NO"))
EOF
}

log "pinning: PIN=$PIN; scheduler autogroup: $(cat /proc/self/autogroup 2>/dev/null || echo '?')"
log "machine: nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
log "rco: $("$RCO" --version 2>/dev/null || echo '?'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
log "raw results: $RAW"
wss() {
    TLS=1
    CONNS_LIST="${CONNS_LIST_ENV:-100}"
    make_certs
    throughput
    TLS=0
}
case "$PHASE" in
    throughput) throughput; report throughput ;;
    memory) memory; report memory ;;
    wss) wss; report wss ;;
    all)
        throughput; report throughput
        RAW="$OUT/$STAMP-memory.jsonl"; : >"$RAW"
        memory; report memory
        RAW="$OUT/$STAMP-wss.jsonl"; : >"$RAW"
        wss; report wss ;;
    *) echo "usage: $0 [throughput|memory|wss|all]" >&2; exit 2 ;;
esac
