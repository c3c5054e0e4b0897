#!/usr/bin/env bash
# The correlation profiles' cost, in one run: the seed profile, `--profile extended` and
# `rg -c -i -j1` with the seed rule's needles on the same generated NDJSON, on one core; peak
# RSS on 1x and 10x that input; EVTX records/s with and without correlation; the state's
# bytes per host and per pending event.
#
#   bash benches/correlate.sh [SIZE]     (SIZE as for gen_events: 400M by default)
#
# MIX=realistic|dense|process picks the generator's mix (examples/gen_events.rs states it;
# `dense` holds only process starts, network events and logons, the correlation's worst
# case). RUNS (default 5) sets hyperfine's runs; TENX=0 skips the 10x RSS run.
# Before timing, one extended scan's alerts are counted per rule and compared with what the
# generator planted: the bench fails when they differ. Needs hyperfine and ripgrep.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-400M}
mix=${MIX:-realistic}
work=${BENCH_DIR:-${CARGO_TARGET_DIR:-target}/bench-data}
mkdir -p "$work"
cargo build --release -q -p dcom-detect-core --example gen_events --example scan --example state_size
bin=${CARGO_TARGET_DIR:-target}/release/examples
gen=$bin/gen_events
scan=$bin/scan
file=$work/corr-$mix-$size.ndjson
if [ ! -s "$file" ] || [ ! -s "$file.expected" ]; then
  "$gen" "$size" 1 --mix "$mix" > "$file" 2> "$file.expected"
fi
bytes=$(stat -c %s "$file")
echo "file: $file ($bytes bytes, $(wc -l < "$file") records); mix $mix; $(nproc) cores; $(date -u +%FT%TZ); commit $(git rev-parse --short HEAD)"
cat "$file.expected"

# ---- correctness: the alerts each rule raises, against what was planted
"$scan" "$file" --threads 1 --profile extended > "$work/alerts.ndjson" 2> "$work/summary.txt"
tail -2 "$work/summary.txt"
python3 - "$work/alerts.ndjson" "$file.expected" <<'PY'
import json, re, sys
counts = {"seed": 0, "D2": 0, "D2L": 0, "D3": 0}
for line in open(sys.argv[1]):
    a = json.loads(line)
    rule = (a.get("dcom_detect", {}).get("correlation") or {}).get("rule", "seed")
    counts[rule] = counts.get(rule, 0) + 1
want = dict(re.findall(r"(seed|D2L|D2|D3) (\d+)", open(sys.argv[2]).read().split("expected alerts:")[1]))
want = {k: int(v) for k, v in want.items()}
print("alerts raised:", ", ".join(f"{k} {v}" for k, v in counts.items()))
if counts != want:
    sys.exit(f"MISMATCH: expected {want}")
PY

# ---- throughput, one core, same run
needles=(-e mmc.exe -e excel.exe -e winword.exe -e outlook.exe -e powerpnt.exe -e visio.exe -e dcom)
hyperfine --warmup 1 --runs "${RUNS:-5}" --export-json "$work/correlate.json" \
  -n "seed profile, 1 core" "$scan $file --threads 1 > /dev/null 2>&1" \
  -n "extended profile, 1 core" "$scan $file --threads 1 --profile extended > /dev/null 2>&1" \
  -n "extended, no prefilter" "$scan $file --threads 1 --profile extended --no-prefilter > /dev/null 2>&1" \
  -n "elastic profile, 1 core" "$scan $file --threads 1 --profile elastic > /dev/null 2>&1" \
  -n "rg -c -i -j1 (needles)" "rg -c -i -j1 ${needles[*]} $file > $work/count.txt"
python3 - "$work/correlate.json" "$bytes" <<'PY'
import json, sys
runs = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
size = int(sys.argv[2])
print(f"{'command':<28} {'mean s':>8} {'± s':>7} {'user s':>7} {'MB/s':>7} {'x rg':>6} {'x rg (user)':>11}")
rg = runs["rg -c -i -j1 (needles)"]
for name, r in runs.items():
    print(f"{name:<28} {r['mean']:>8.3f} {r['stddev']:>7.3f} {r['user']:>7.3f} {size / r['mean'] / 1e6:>7.0f} "
          f"{rg['mean'] / r['mean']:>6.2f} {rg['user'] / r['user']:>11.2f}")
PY

# ---- peak RSS, 1x and 10x (the 10x file is generated, times continuing, not a copy)
rss() {
  /usr/bin/time -v "$scan" "$1" --threads 1 "${@:2}" > /dev/null 2> "$work/rss.txt" || true
  echo "$(grep -o 'Maximum resident set size (kbytes): [0-9]*' "$work/rss.txt" | grep -o '[0-9]*$') KB peak RSS, $(grep -o 'Elapsed (wall clock) time.*' "$work/rss.txt" | awk '{print $NF}') wall: $(basename "$1") ${*:2}"
}
rss "$file"
rss "$file" --profile extended
if [ "${TENX:-1}" != 0 ]; then
  big=$work/corr-$mix-$size-x10.ndjson
  n=${size%[KMGkmg]}; unit=${size#"$n"}
  [ -s "$big" ] || "$gen" "$((n * 10))$unit" 1 --mix "$mix" > "$big" 2> "$big.expected"
  cat "$big.expected"
  rss "$big"
  rss "$big" --profile extended
  rm -f "$big"
fi

# ---- EVTX records/s with and without correlation (realdata and netdata recordings)
shared=${SHARED:-/work/shared}
# Linked under plain names: many recordings' names hold spaces, which hyperfine would split.
links=$work/evtx-links
rm -rf "$links"; mkdir -p "$links"
i=0
while IFS= read -r f; do i=$((i + 1)); ln -s "$f" "$links/$(printf %04d $i).evtx"; done \
  < <(find "$shared/realdata" "$shared/netdata" -name '*.evtx' | sort)
mapfile -t evtx < <(find "$links" -name '*.evtx' | sort)
if [ ${#evtx[@]} -gt 0 ]; then
  records=$("$scan" "${evtx[@]}" --threads 1 2>&1 >/dev/null | grep -o '^[^:]*: [0-9]* records' | awk '{s += $2} END {print s}')
  hyperfine --warmup 1 --runs "${RUNS:-5}" --export-json "$work/evtx.json" \
    -n "EVTX seed, 1 core" "$scan ${evtx[*]} --threads 1 > /dev/null 2>&1" \
    -n "EVTX extended, 1 core" "$scan ${evtx[*]} --threads 1 --profile extended > /dev/null 2>&1"
  python3 - "$work/evtx.json" "$records" "${#evtx[@]}" <<'PY'
import json, sys
records, files = int(sys.argv[2]), sys.argv[3]
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"{r['command']:<24} {files} files, {records} records: {r['mean']:.3f} s = {records / r['mean']:,.0f} records/s")
PY
fi

# ---- state sizes
"$bin/state_size"
