#!/usr/bin/env bash
# Measures the C API's cost per event: ns/event (best of REPS runs of ITERATIONS calls) and
# instructions per event under callgrind (the difference between two runs of different
# lengths, so setup and the first call's one-off costs cancel out), for the UTF-8 and UTF-16
# struct doors and the JSON door, on a typical non-matching and a typical matching event.
# Also prints the heap allocations the library makes (counted through ld --wrap).
#
#   bash ffi/benches/run.sh [ITERATIONS [REPS]]      (defaults: 1000000 5)
#
# Honours CARGO_TARGET_DIR (default: the workspace's target/), CARGO, CC, VALGRIND.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
CARGO=${CARGO:-cargo}
CC=${CC:-cc}
VALGRIND=${VALGRIND:-valgrind}
ITERATIONS=${1:-1000000}
REPS=${2:-5}
OUT=$TARGET/ffi-bench
EVENTS=$ROOT/ffi/benches/events
mkdir -p "$OUT"

(cd "$ROOT" && CARGO_TARGET_DIR=$TARGET "$CARGO" build --release -q -p dcom-detect-ffi --lib)
WRAP=-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=posix_memalign,--wrap=aligned_alloc
"$CC" -std=c11 -Wall -Wextra -Werror -O2 -g -I"$ROOT/include" "$ROOT/ffi/benches/bench.c" \
    "$TARGET/release/libdcom_detect.a" $WRAP -lgcc_s -lutil -lrt -lpthread -lm -ldl -o "$OUT/bench"

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "commit:  $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- ffi core || echo ' (dirty)')"
echo "tools:   $(rustc --version), $("$CC" --version | head -n1), $("$VALGRIND" --version)"
echo
echo "== wall clock: $ITERATIONS calls x $REPS runs per mode, best run (one core, release, fat LTO)"
"$OUT/bench" all "$ITERATIONS" "$REPS" "$EVENTS"
echo
echo "== callgrind: instructions per event = (Ir(11000 calls) - Ir(1000 calls)) / 10000"
instructions() { # instructions MODE N: total instructions of one run
    "$VALGRIND" --tool=callgrind --callgrind-out-file=/dev/null "$OUT/bench" "$1" "$2" 1 "$EVENTS" 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
for mode in utf8-miss utf8-match utf16-miss utf16-match json-miss json-match; do
    small=$(instructions "$mode" 1000)
    large=$(instructions "$mode" 11000)
    printf '%-12s %8d instructions/event\n' "$mode" $(((large - small) / 10000))
done
