#!/usr/bin/env bash
# bench/all.sh: the socket and task benchmark runs quoted in the "Latest
# run" section of docs/BENCHMARKS.md, one after the other (about 14 minutes
# on the 2-core machine). Prints the scripts' Markdown tables; each script's
# header explains its columns and options. Builds nothing: run
# `cargo build --release -p rco-cli` and build bench/tcp and bench/ws first
# (see their headers). NICE=-10 (the default here) needs root; NICE=0 to skip.
set -uo pipefail
cd "$(dirname "$0")/.."
export SKIP_BUILD=1 NICE="${NICE:--10}"
echo "== start $(date -u +%H:%M:%S) $(git rev-parse --short HEAD)"
echo "== tcp throughput c=1000"
RUNS=3 DURATION=8 WARMUP=2 SERVERS="native rco rco-thread node python" bench/tcp/run.sh throughput 2>&1 | grep -E "^\|"
echo "== tcp latency c=1"
RUNS=3 DURATION=5 WARMUP=1 CONNS=1 SERVERS="native rco rco-thread" bench/tcp/run.sh throughput 2>&1 | grep -E "^\|"
echo "== tcp memory 10k idle"
RUNS=2 SERVERS="native rco rco-lean node python" bench/tcp/run.sh memory 2>&1 | grep -E "^\|"
echo "== ws throughput"
RUNS=3 DURATION=8 WARMUP=2 CONNS_LIST="100 1000" bench/ws/run.sh throughput 2>&1 | grep -E "^\|"
echo "== ws memory"
RUNS=2 bench/ws/run.sh memory 2>&1 | grep -E "^\|"
echo "== tasks spawn and parked"
RUNS=3 ONLY="a b" bench/tasks/run.sh 2>&1 | grep -E "^\|"
echo "== end $(date -u +%H:%M:%S)"
