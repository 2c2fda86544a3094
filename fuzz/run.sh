#!/usr/bin/env bash
# Runs one fuzz target for SECONDS seconds, starting from its committed seeds
# (fuzz/seeds/TARGET), the inputs that once failed (fuzz/regressions/TARGET)
# and the local corpus (fuzz/corpus/TARGET, not in git),
# then prints the number of executions. A crash leaves its input under
# fuzz/artifacts/TARGET/ and makes this script exit non-zero.
#
#   fuzz/run.sh TARGET SECONDS [extra libFuzzer flags...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); the stable toolchain is used
# with RUSTC_BOOTSTRAP=1 for the nightly-only flags cargo-fuzz passes.
# One fuzzer process at a time (no -jobs/-workers: the machine is shared).
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?usage: fuzz/run.sh TARGET SECONDS [libFuzzer flags...]}
seconds=${2:?usage: fuzz/run.sh TARGET SECONDS [libFuzzer flags...]}
shift 2
[ -d "seeds/$target" ] || { echo "unknown target $target (no fuzz/seeds/$target)" >&2; exit 2; }

# Targets that start a reactor per input are slow per execution and wait on
# sockets: give them a longer per-input timeout and small inputs.
case "$target" in
  socket_ops|ws_peer|tls_peer) limits=(-timeout=60 -max_len=512) ;;
  *) limits=(-timeout=20 -max_len=4096) ;;
esac

mkdir -p "corpus/$target" "artifacts/$target"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# -s none: the crates are safe Rust (lang forbids unsafe), so AddressSanitizer
# adds cost and no signal; -a: debug assertions and overflow checks on.
# Inputs that once failed (fuzz/regressions/TARGET) run first, with the seeds.
inputs=("corpus/$target" "seeds/$target")
[ -d "regressions/$target" ] && inputs+=("regressions/$target")
RUSTC_BOOTSTRAP=1 cargo fuzz run -s none -a "$target" "${inputs[@]}" -- \
  -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="artifacts/$target/" "${limits[@]}" "$@" >"$log" 2>&1 || status=$?
grep -E '^(INFO: (seed corpus|[0-9]+ files found)|#[0-9]+ +(INITED|DONE))|^Done [0-9]+ runs|^stat::number_of_executed_units|^stat::peak_rss_mb|SUMMARY|panicked|^==[0-9]+== ERROR|Test unit written' "$log" || true
if [ "$status" -ne 0 ]; then
  echo "--- $target: fuzzer exited with status $status; last lines of its log:" >&2
  tail -n 40 "$log" >&2
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
echo "$target: ${runs:-?} executions in ${seconds}s (exit status $status)"
exit "$status"
