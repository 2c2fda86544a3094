#!/usr/bin/env bash
# bench/lang/items.sh: instructions per item of two loops every collections
# program runs, counted by callgrind (one worker): a `push` in a while loop
# (items/push.rco), and an iteration's block call (items/transform.rco, a
# `[ 1 + ] transform` over an array, less items/range.rco, which only builds
# the array). Each count is (Ir at N - Ir at 0) / N.
#
# Usage: bench/lang/items.sh [BIN ...]   (default target/release/rco; N [100000])
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
N=${N:-100000}
ir() {
  RCO_WORKERS=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" run "$HERE/items/$2.rco" "$3" 2>&1 |
    awk '/Collected/ { print $4 }'
}
per_item() {
  echo $(( ($(ir "$1" "$2" "$N") - $(ir "$1" "$2" 0)) / N ))
}
for bin in "${@:-$HERE/../../target/release/rco}"; do
  push=$(per_item "$bin" push)
  block=$(( $(per_item "$bin" transform) - $(per_item "$bin" range) ))
  echo "$bin: push loop $push per iteration; transform's block call $block per item (N=$N)"
done
