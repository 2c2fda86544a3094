#!/usr/bin/env bash
# bench/ws/ab.sh: A/B of rco binaries on the WebSocket echo over TLS (the
# `wss` phase of run.sh, without the peers): bench/ws/echo_tls.rco under
# each binary in turn, REPS times alternating (server on CPU 0, generator
# on CPU 1), 100 connections, 64 B; prints per run: binary, round trips per
# second, user and sys µs per round trip, then the means per binary.
#
# Usage: bench/ws/ab.sh BIN_A BIN_B [...]   (env: REPS [4], CONNS [100],
#        DURATION [5], WARMUP [2])
# Needs bench/ws built (cargo build --release --manifest-path bench/ws/Cargo.toml)
# and openssl (a CA and a leaf for 127.0.0.1/localhost, made per run).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE/../.."
ulimit -n 20000
TLS="$(mktemp -d)"
OUT="$TLS/gen.json"
trap 'rm -rf "$TLS"' EXIT
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
{
    openssl req -x509 "${ec[@]}" -keyout "$TLS/ca.key" -out "$TLS/ca.pem" -days 2 -subj "/CN=rco ab CA" &&
    openssl req "${ec[@]}" -keyout "$TLS/key.pem" -out "$TLS/leaf.csr" -subj "/CN=localhost" &&
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$TLS/leaf.ext" &&
    openssl x509 -req -in "$TLS/leaf.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" -CAcreateserial -days 2 \
        -extfile "$TLS/leaf.ext" -out "$TLS/cert.pem"
} >"$TLS/openssl.log" 2>&1 || { cat "$TLS/openssl.log" >&2; exit 1; }
for _ in $(seq "${REPS:-4}"); do
  for bin in "$@"; do
    # Below the ephemeral port range, so no client socket holds it.
    PORT=$((30000 + RANDOM % 2000))
    taskset -c 0 "$bin" run --allow-sockets --max-sockets 20000 "$HERE/echo_tls.rco" "$PORT" "$TLS/cert.pem" "$TLS/key.pem" \
      >/dev/null 2>&1 &
    P=$!
    sleep 0.5
    taskset -c 1 "$HERE/target/release/wsgen" pingpong --addr "127.0.0.1:$PORT" --conns "${CONNS:-100}" --size 64 \
      --warmup "${WARMUP:-2}" --duration "${DURATION:-5}" --pid "$P" --tls-ca "$TLS/ca.pem" >"$OUT" 2>/dev/null
    kill "$P"
    wait "$P" 2>/dev/null || true
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(sys.argv[2], d['rt_per_s'], d['user_us_per_rt'], d['sys_us_per_rt'])" "$OUT" "$bin"
  done
done | awk '{print; n[$1]++; rt[$1]+=$2; u[$1]+=$3; s[$1]+=$4}
  END {for (b in n) printf "mean %s: %.0f rt/s, user %.3f, sys %.3f us per round trip\n", b, rt[b]/n[b], u[b]/n[b], s[b]/n[b]}'
