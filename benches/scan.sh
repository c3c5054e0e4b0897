#!/usr/bin/env bash
# Throughput of the NDJSON scanner against grep-class tools on the same file, in one run.
#
#   bash benches/scan.sh [SIZE]        (SIZE as for gen_events: 400M by default)
#
# Generates SIZE of realistic Elastic Defend process events (examples/gen_events.rs, ~0.1 %
# matching, many near misses), then times with hyperfine: the scanner on one and on all
# cores (exact verdicts, alerts to /dev/null), ripgrep counting the rule's needles on one
# thread, GNU grep, and `wc -l` (outputs go to a file: GNU grep stops at the first match when
# its output is /dev/null); then peak RSS of the scan on SIZE and on twice SIZE.
# Needs hyperfine and ripgrep (Debian: apt-get install hyperfine ripgrep).
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-400M}
work=${BENCH_DIR:-target/bench-data}
mkdir -p "$work"
cargo build --release -q -p dcom-detect-core --example gen_events --example scan
gen=target/release/examples/gen_events
scan=target/release/examples/scan
file=$work/events-$size.ndjson
double=$work/events-$size-x2.ndjson
[ -s "$file" ] || "$gen" "$size" 1 > "$file"
[ -s "$double" ] || { cat "$file" "$file" > "$double"; }
bytes=$(stat -c %s "$file")
echo "file: $file ($bytes bytes, $(wc -l < "$file") events); $(nproc) cores; $(date -u +%FT%TZ); commit $(git rev-parse --short HEAD)"
needles=(-e mmc.exe -e excel.exe -e winword.exe -e outlook.exe -e powerpnt.exe -e visio.exe -e dcom)
hyperfine --warmup 2 --runs "${RUNS:-10}" --export-json "$work/scan.json" \
  -n "dcom-detect scan, 1 core" "$scan $file --threads 1 > /dev/null 2>&1" \
  -n "dcom-detect scan, all cores" "$scan $file --threads 0 > /dev/null 2>&1" \
  -n "rg -c -i -j1 (needles)" "rg -c -i -j1 ${needles[*]} $file > $work/count.txt" \
  -n "grep -c -i -E (needles)" "grep -c -i -E 'mmc.exe|excel.exe|winword.exe|outlook.exe|powerpnt.exe|visio.exe|dcom' $file > $work/count.txt" \
  -n "wc -l" "wc -l $file > $work/count.txt"
python3 - "$work/scan.json" "$bytes" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["results"]
size = int(sys.argv[2])
print(f"{'command':<32} {'mean s':>8} {'MB/s':>8}")
for r in runs:
    print(f"{r['command']:<32} {r['mean']:>8.3f} {size / r['mean'] / 1e6:>8.0f}")
PY
for f in "$file" "$double"; do
  /usr/bin/time -f "peak RSS %M KB, %e s: $(basename "$f")" "$scan" "$f" --threads 1 > /dev/null 2> "$work/rss.txt" || true
  tail -1 "$work/rss.txt"
  /usr/bin/time -f "peak RSS %M KB, %e s (all cores): $(basename "$f")" "$scan" "$f" --threads 0 > /dev/null 2> "$work/rss.txt" || true
  tail -1 "$work/rss.txt"
done
"$scan" "$file" --threads 1 2>&1 >/dev/null | tail -1
