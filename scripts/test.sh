#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit/golden/property tests, and the
# conformance areas that pass (each must stay at 0 failed).
set -euo pipefail
cd "$(dirname "$0")/.."

# Areas of ../shared/conformance that this implementation passes in full.
AREAS=(core tasks capabilities tcp ws hardening tls)

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --release --workspace
cargo test --workspace --release

conformance=${RCO_CONFORMANCE:-../shared/conformance}
if [ -x "$conformance/run.sh" ]; then
  for area in "${AREAS[@]}"; do
    echo "== conformance: $area"
    "$conformance/run.sh" "${CARGO_TARGET_DIR:-target}/release/rco" "$area"
  done
else
  echo "note: $conformance/run.sh not found; conformance areas skipped"
fi
echo "all tests passed"
