#!/usr/bin/env bash
# The C test suite of the C API (ffi/), as `make test` runs it.
#
#  1. builds the library in release mode and installs it as a user would, with
#     `make install PREFIX=$OUT/prefix`: header, libdcom_detect.a, libdcom_detect.so.VERSION
#     with its .so.MAJOR and .so links, lib/pkgconfig/dcom_detect.pc;
#  2. checks the installed copy: the soname (readelf), the links, the .pc file, that the library
#     exports exactly the functions the header declares, and that the header compiles alone as
#     C11 and as C++;
#  3. takes every compiler flag from the installed dcom_detect.pc: `pkg-config --cflags --libs
#     dcom_detect` (shared, with an rpath to the installed lib/) and `pkg-config --static
#     --cflags --libs dcom_detect` with -l:libdcom_detect.a (static);
#  4. compiles every test in ffi/tests/c with -std=c11 -Wall -Wextra -Werror -pedantic, linked
#     statically and dynamically, plain and with -fsanitize=address,undefined;
#  5. runs each: plain, under valgrind (memcheck, leaks), and the sanitizer builds;
#  6. builds examples/sensor.c the same way (static and shared) and checks its output with
#     and without examples/exceptions.json, its refusal of a bad exceptions file, its
#     correlation alerts with --profile extended on a correlation fixture, and that the
#     alert documents it prints for the golden corpus are core's golden alerts byte for byte.
#
# Output lands in $CARGO_TARGET_DIR (default: the workspace's target/), under ffi-c/ (the
# installed copy in ffi-c/prefix/).
# Environment: CARGO, MAKE, CC, CXX, VALGRIND, DCOM_GOLDEN_DIR (default core/tests/golden),
# DCOM_EXCEPTIONS (default examples/exceptions.json).
# Needs: cargo, make, a C11 compiler with libasan/libubsan, a C++ compiler, valgrind, pkg-config.
# Ends with "c-tests: N passed, M failed" (one per build-and-run step) and exits non-zero on any
# failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
CARGO=${CARGO:-cargo}
MAKE=${MAKE:-make}
CC=${CC:-cc}
CXX=${CXX:-c++}
VALGRIND=${VALGRIND:-valgrind}
GOLDEN=${DCOM_GOLDEN_DIR:-$ROOT/core/tests/golden}
EXCEPTIONS=${DCOM_EXCEPTIONS:-$ROOT/examples/exceptions.json}
CORRELATION=$ROOT/core/tests/data/correlation
OUT=$TARGET/ffi-c
PREFIX=$OUT/prefix
LIBDIR=$PREFIX/lib
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n1)
SOVERSION=${VERSION%%.*}
TESTS=(test_api test_golden test_threads test_tuning test_alerts test_session)

die() { echo "ffi/tests/run.sh: $*" >&2; exit 1; }
for tool in "$CARGO" "$MAKE" "$CC" "$CXX" "$VALGRIND" pkg-config nm readelf; do
    command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool (see .ci/run)"
done
[ -f "$GOLDEN/events.ndjson" ] && [ -f "$GOLDEN/expected.tsv" ] && [ -f "$GOLDEN/alerts.ndjson" ] ||
    die "golden corpus not found in $GOLDEN"
[ -f "$EXCEPTIONS" ] || die "exceptions file not found: $EXCEPTIONS"

passed=0
failed=0
failures=()
step() { # step NAME COMMAND...: runs one step, records its outcome, never stops the script
    local name=$1
    shift
    echo "== $name"
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "!! FAILED: $name" >&2
    fi
}

# ---- 1. build and install ---------------------------------------------------------------------
echo "== make install PREFIX=$PREFIX (cargo build --release -p dcom-detect-ffi, target: $TARGET)"
rm -rf "$PREFIX"
CARGO_TARGET_DIR=$TARGET "$MAKE" -C "$ROOT" --no-print-directory install PREFIX="$PREFIX" DESTDIR= CARGO="$CARGO" CARGO_TARGET_DIR="$TARGET"
for f in include/dcom_detect.h lib/libdcom_detect.a "lib/libdcom_detect.so.$VERSION" lib/pkgconfig/dcom_detect.pc; do
    [ -f "$PREFIX/$f" ] || die "make install did not install $PREFIX/$f"
done

# ---- 2. the installed copy ------------------------------------------------------------------
check_installed() {
    local soname
    soname=$(readelf -d "$LIBDIR/libdcom_detect.so.$VERSION" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [ "$soname" = "libdcom_detect.so.$SOVERSION" ] || { echo "SONAME is '$soname', not libdcom_detect.so.$SOVERSION"; return 1; }
    [ "$(readlink "$LIBDIR/libdcom_detect.so.$SOVERSION")" = "libdcom_detect.so.$VERSION" ] &&
        [ "$(readlink "$LIBDIR/libdcom_detect.so")" = "libdcom_detect.so.$SOVERSION" ] ||
        { echo "the .so links are wrong:"; ls -l "$LIBDIR"; return 1; }
    cmp -s "$PREFIX/include/dcom_detect.h" "$ROOT/include/dcom_detect.h" || { echo "installed header differs"; return 1; }
    echo "SONAME $soname; libdcom_detect.so -> .so.$SOVERSION -> .so.$VERSION"
}
step "installed: soname, links, header" check_installed
check_pc() {
    local version
    version=$(PKG_CONFIG_PATH=$LIBDIR/pkgconfig pkg-config --modversion dcom_detect) || return 1
    [ "$version" = "$VERSION" ] || { echo "dcom_detect.pc says version $version, not $VERSION"; return 1; }
    [ "$(PKG_CONFIG_PATH=$LIBDIR/pkgconfig pkg-config --variable=libdir dcom_detect)" = "$LIBDIR" ] ||
        { echo "dcom_detect.pc's libdir is not $LIBDIR"; return 1; }
    echo "dcom_detect $version: $(PKG_CONFIG_PATH=$LIBDIR/pkgconfig pkg-config --static --cflags --libs dcom_detect)"
}
step "installed: dcom_detect.pc" check_pc
check_exports() {
    local declared exported
    declared=$(grep -oE '\bdcom_[a-z0-9_]+\(' "$ROOT/include/dcom_detect.h" | tr -d '(' | sort -u)
    exported=$(nm -D --defined-only "$LIBDIR/libdcom_detect.so.$VERSION" | awk '$2 == "T" { print $3 }' | sort -u)
    if [ "$declared" != "$exported" ]; then
        echo "header declares and library exports differ:"
        diff <(echo "$declared") <(echo "$exported") || true
        return 1
    fi
    echo "$(echo "$exported" | wc -l) functions, exactly as declared"
}
step "exports match include/dcom_detect.h" check_exports
step "header compiles alone as C11" \
    "$CC" -std=c11 -Wall -Wextra -Werror -pedantic -fsyntax-only -x c "$PREFIX/include/dcom_detect.h"
step "header compiles alone as C++11" \
    "$CXX" -std=c++11 -Wall -Wextra -Werror -pedantic -fsyntax-only -x c++ "$PREFIX/include/dcom_detect.h"

# ---- 3. pkg-config --------------------------------------------------------------------------
# Only the installed copy: the flags come from its dcom_detect.pc. Static: -ldcom_detect would
# pick the .so beside the archive, so the archive is named (-l:libdcom_detect.a), followed by
# Libs.private, the system libraries the Rust standard library needs. If Rust ever needs more
# than the .pc file lists, the static links below fail.
export PKG_CONFIG_PATH=$LIBDIR/pkgconfig
read -r -a PC_STATIC <<<"$(pkg-config --static --cflags --libs dcom_detect)"
for i in "${!PC_STATIC[@]}"; do
    [ "${PC_STATIC[$i]}" = -ldcom_detect ] && PC_STATIC[i]=-l:libdcom_detect.a
done
read -r -a PC_SHARED <<<"$(pkg-config --cflags --libs dcom_detect)"
PC_SHARED+=("-Wl,-rpath,$(pkg-config --variable=libdir dcom_detect)")
echo "static: ${PC_STATIC[*]}"
echo "shared: ${PC_SHARED[*]}"

# ---- 4. compile -----------------------------------------------------------------------------
CFLAGS=(-std=c11 -Wall -Wextra -Werror -pedantic -g -O1 -pthread -I"$ROOT/ffi/tests/c")
SANITIZE=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)

linked_as() { # linked_as static|shared BINARY: the binary does (not) need libdcom_detect.so.MAJOR
    if readelf -d "$2" | grep -q 'NEEDED.*libdcom_detect'; then
        [ "$1" = shared ] || { echo "$2 should not need libdcom_detect.so"; return 1; }
        readelf -d "$2" | grep -qE "\(NEEDED\) +Shared library: \[libdcom_detect\.so\.$SOVERSION\]" ||
            { echo "$2 does not name the soname libdcom_detect.so.$SOVERSION"; readelf -d "$2" | grep NEEDED; return 1; }
    else
        [ "$1" = static ] || { echo "$2 does not link libdcom_detect.so"; return 1; }
    fi
}
compile() { # compile SOURCE OUTPUT static|shared [EXTRA FLAGS...]
    local src=$1 out=$2 link=$3
    shift 3
    if [ "$link" = static ]; then
        "$CC" "${CFLAGS[@]}" "$@" "$src" -o "$out" "${PC_STATIC[@]}"
    else
        "$CC" "${CFLAGS[@]}" "$@" "$src" -o "$out" "${PC_SHARED[@]}"
    fi && linked_as "$link" "$out"
}
for t in "${TESTS[@]}"; do
    for link in static shared; do
        step "compile $t ($link)" compile "$ROOT/ffi/tests/c/$t.c" "$OUT/$t-$link" $link
        step "compile $t ($link, asan+ubsan)" compile "$ROOT/ffi/tests/c/$t.c" "$OUT/$t-$link-asan" $link "${SANITIZE[@]}"
    done
done

# ---- 5. run ---------------------------------------------------------------------------------
args_of() {
    case $1 in
    test_golden | test_alerts) echo "$GOLDEN" ;;
    test_threads) echo "$GOLDEN $EXCEPTIONS" ;;
    test_tuning) echo "$EXCEPTIONS" ;;
    test_session) echo "$CORRELATION" ;;
    esac
}
VALGRIND_FLAGS=(-q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for t in "${TESTS[@]}"; do
    read -r -a args <<<"$(args_of "$t")"
    for link in static shared; do
        if [ -x "$OUT/$t-$link" ]; then
            step "run $t ($link)" "$OUT/$t-$link" "${args[@]}"
            step "run $t ($link) under valgrind" "$VALGRIND" "${VALGRIND_FLAGS[@]}" "$OUT/$t-$link" "${args[@]}"
        fi
        if [ -x "$OUT/$t-$link-asan" ]; then
            step "run $t ($link, asan+ubsan)" "$OUT/$t-$link-asan" "${args[@]}"
        fi
    done
done

# ---- 6. the example sensor ------------------------------------------------------------------
SENSOR_INPUT='{"event":{"category":["process"],"type":["start"]},"process":{"name":"rundll32.exe","parent":{"name":"OUTLOOK.EXE"}}}
{"event":{"category":"process","type":"start"},"process":{"name":"svchost.exe"}}
{"process":{"name":"a","name":"b"}}
{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\Windows\\System32\\dcomcnfg.exe"}
{"event":{"category":["process"],"type":["start"]},"host":{"name":"ws-fin-0042"},"user":{"name":"mlopez"},"process":{"name":"wscript.exe","command_line":"wscript.exe \\\\fileserver\\finance\\approved-macros\\close.vbs","parent":{"name":"EXCEL.EXE"}}}'
expect_lines() { # expect_lines OUTPUT REGEX...: every regex matches some line of OUTPUT
    local output=$1 line
    shift
    for line in "$@"; do
        grep -qE -- "$line" <<<"$output" || { echo "sensor output lacks: $line"; return 1; }
    done
}
check_sensor() { # check_sensor BINARY...: runs it without exceptions and checks its output
    local output
    output=$(printf '%s\n' "$SENSOR_INPUT" | "$@" 2>&1) || { echo "$output"; return 1; }
    echo "$output"
    expect_lines "$output" \
        '\(0 exception items\)$' \
        'ALERT utf8-event #1 rule=3e8485db-ed53-542a-bdd7-0246bf43ff97 .* branches=office_child$' \
        'ok    utf8-event #2 no match' \
        'ALERT utf8-event #3 .* branches=dcomcnfg$' \
        'ALERT utf8-event #4 .* branches=office_child$' \
        'ok    utf16-event #1 no match' \
        'ALERT utf16-event #2 .* severity=high risk=73 TA0008/T1021.003 branches=office_child,dcom_command_line$' \
        'ALERT line #1 .* branches=office_child$' \
        '^\{"@timestamp":null,"event":\{"kind":"alert",.*"dcom_detect":\{"branches":\["office_child"\],.*"source":\{"file":"-","line":1,"offset":0\}\}\}$' \
        'ok    line #2 no match' \
        'line 3: rejected at byte 23: duplicate key "name" in one object' \
        'ALERT line #4 .* branches=dcomcnfg$' \
        '^\{.*"schema":"sysmon_1/flat","source":\{"file":"-","line":4,"offset":235\}\}\}$' \
        'ALERT line #5 .* branches=office_child$' \
        '^5 lines, 3 alerts, 0 suppressed, 1 rejected$'
}
check_sensor_tuned() { # check_sensor_tuned BINARY...: with examples/exceptions.json
    local output
    output=$(printf '%s\n' "$SENSOR_INPUT" | "$@" --exceptions "$EXCEPTIONS" 2>&1) || { echo "$output"; return 1; }
    echo "$output"
    expect_lines "$output" \
        '\(4 exception items\)$' \
        'exception 3: Finance: approved Excel macros start wscript or cmd$' \
        'ALERT utf8-event #1 .* branches=office_child$' \
        '^suppressed utf8-event #4 by exception 0 "Managed endpoints: administrators start PowerShell from MMC" branches=office_child$' \
        'ALERT utf16-event #2 .* branches=office_child,dcom_command_line$' \
        'ALERT line #1 .* branches=office_child$' \
        '^suppressed line #5 by exception 3 "Finance: approved Excel macros start wscript or cmd" branches=office_child$' \
        '^5 lines, 2 alerts, 1 suppressed, 1 rejected$'
    if grep -q '"line":5,' <<<"$output"; then
        echo "a suppressed record produced an alert document"
        return 1
    fi
}
check_sensor_refuses() { # check_sensor_refuses BINARY...: a bad exceptions file is refused
    local bad=$OUT/bad-exceptions.json output
    printf '%s\n' '{"exceptions":[{"name":"ok","entries":[{"field":"host.name","operator":"exists"}]},{"name":"typo","entries":[{"field":"user.name","operator":"equals","value":"x"}]}]}' >"$bad"
    if output=$("$@" --exceptions "$bad" </dev/null 2>&1); then
        echo "$output"
        echo "the sensor accepted a bad exceptions file"
        return 1
    fi
    echo "$output"
    expect_lines "$output" \
        '^dcom_rule_create: the exceptions file was refused .*: bad exceptions file: item 2 \("typo"\), entry 1 \(field "user.name"\): unknown operator "equals"'
}
check_sensor_golden() { # check_sensor_golden BINARY: its alert documents for the golden corpus are the golden ones
    local alerts
    alerts=$(cd "$GOLDEN" && "$1" events.ndjson 2>/dev/null | grep '^{') || return 1
    if ! diff <(printf '%s\n' "$alerts") "$GOLDEN/alerts.ndjson" >/dev/null; then
        echo "the sensor's alert documents differ from $GOLDEN/alerts.ndjson"
        diff <(printf '%s\n' "$alerts") "$GOLDEN/alerts.ndjson" | head -n 5
        return 1
    fi
    echo "$(wc -l <"$GOLDEN/alerts.ndjson") alert documents, byte-identical to alerts.ndjson"
}
check_sensor_correlates() { # check_sensor_correlates BINARY...: --profile extended: struct events, the Excel fixture
    local output
    output=$("$@" --profile extended "$CORRELATION/otrf_excel4macro.ndjson" 2>&1) || { echo "$output"; return 1; }
    echo "$output"
    expect_lines "$output" \
        '^\{.*"correlation":\{"rule":"D2","partner":\{"source":\{"file":"[^"]*","line":4,.*"source":\{"file":"[^"]*otrf_excel4macro.ndjson","line":2,' \
        '^\{.*"correlation":\{"rule":"D2L","partner":\{"source":\{"file":"[^"]*","line":1,.*"source":\{"file":"[^"]*otrf_excel4macro.ndjson","line":3,' \
        '^\{.*"correlation":\{"rule":"D3","partner":\{"source":\{"row":1\},.*"source":\{"row":2\}' \
        '^sensor events: 2 fed, 1 correlation alerts$' \
        '^5 lines, 4 alerts \(4 correlations\), 0 rejected, 0 evicted$'
}
step "compile examples/sensor.c (static, pkg-config)" compile "$ROOT/examples/sensor.c" "$OUT/sensor-static" static
step "compile examples/sensor.c (shared, pkg-config)" compile "$ROOT/examples/sensor.c" "$OUT/sensor-shared" shared
if [ -x "$OUT/sensor-static" ]; then
    step "run sensor (static) under valgrind" check_sensor "$VALGRIND" "${VALGRIND_FLAGS[@]}" "$OUT/sensor-static"
    step "run sensor (static) with exceptions under valgrind" \
        check_sensor_tuned "$VALGRIND" "${VALGRIND_FLAGS[@]}" "$OUT/sensor-static"
    step "run sensor (static) with a bad exceptions file under valgrind" \
        check_sensor_refuses "$VALGRIND" "${VALGRIND_FLAGS[@]}" "$OUT/sensor-static"
    step "run sensor (static) --profile extended under valgrind" \
        check_sensor_correlates "$VALGRIND" "${VALGRIND_FLAGS[@]}" "$OUT/sensor-static"
fi
if [ -x "$OUT/sensor-shared" ]; then
    step "run sensor (shared)" check_sensor "$OUT/sensor-shared"
    step "run sensor (shared) with exceptions" check_sensor_tuned "$OUT/sensor-shared"
    step "run sensor (shared) --profile extended" check_sensor_correlates "$OUT/sensor-shared"
    step "run sensor (shared) on the golden corpus: golden alert documents" check_sensor_golden "$OUT/sensor-shared"
fi

# ---- summary --------------------------------------------------------------------------------
for f in "${failures[@]+"${failures[@]}"}"; do
    echo "FAILED: $f" >&2
done
echo "c-tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
