#!/usr/bin/env bash
# Measures the C API's cost per event: ns/event (best of REPS runs of ITERATIONS calls) and
# instructions per event under callgrind (the difference between two runs of different
# lengths, so setup and the first call's one-off costs cancel out), for the UTF-8 and UTF-16
# struct doors and the JSON door, on a typical non-matching and a typical matching event;
# the same doors with examples/exceptions.json loaded (dcom_rule_evaluate*, also on an event
# an exception suppresses); and the alert door (dcom_rule_alert_json; the matching record's
# alert runs ITERATIONS/20 times, as it allocates and costs microseconds).
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
EXCEPTIONS=$ROOT/examples/exceptions.json
mkdir -p "$OUT"

(cd "$ROOT" && CARGO_TARGET_DIR=$TARGET "$CARGO" build --release -q -p dcom-detect-ffi --lib)
WRAP=-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=posix_memalign,--wrap=aligned_alloc
"$CC" -std=c11 -Wall -Wextra -Werror -O2 -g -I"$ROOT/include" "$ROOT/ffi/benches/bench.c" \
    "$TARGET/release/libdcom_detect.a" $WRAP -lgcc_s -lutil -lrt -lpthread -lm -ldl -o "$OUT/bench"

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "commit:  $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- ffi core examples/exceptions.json || echo ' (dirty)')"
echo "tools:   $(rustc --version), $("$CC" --version | head -n1), $("$VALGRIND" --version)"
echo
MODES=(utf8-miss utf8-match utf16-miss utf16-match json-miss json-match
    utf8-miss-tuned utf8-match-tuned utf8-suppressed-tuned
    utf16-miss-tuned utf16-match-tuned utf16-suppressed-tuned
    json-miss-tuned json-match-tuned json-suppressed-tuned
    alert-miss alert-match alert-suppressed-tuned)
echo "== wall clock: $ITERATIONS calls x $REPS runs per mode (alert-match: $((ITERATIONS / 20))), best run (one core, release, fat LTO)"
for mode in "${MODES[@]}"; do
    n=$ITERATIONS
    [ "$mode" = alert-match ] && n=$((ITERATIONS / 20))
    "$OUT/bench" "$mode" "$n" "$REPS" "$EVENTS" "$EXCEPTIONS"
done
echo
echo "== callgrind: instructions per event = (Ir(11000 calls) - Ir(1000 calls)) / 10000"
instructions() { # instructions MODE N: total instructions of one run
    "$VALGRIND" --tool=callgrind --callgrind-out-file=/dev/null "$OUT/bench" "$1" "$2" 1 "$EVENTS" "$EXCEPTIONS" 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
for mode in "${MODES[@]}"; do
    small=$(instructions "$mode" 1000)
    large=$(instructions "$mode" 11000)
    printf '%-24s %8d instructions/event\n' "$mode" $(((large - small) / 10000))
done
