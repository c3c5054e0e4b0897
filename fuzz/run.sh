#!/usr/bin/env bash
# Runs every fuzz target for a while, starting from the committed seeds.
#
#   bash fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      (default 30 s, every target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). It builds with libFuzzer and AddressSanitizer;
# on a stable toolchain RUSTC_BOOTSTRAP=1 lets it use the sanitizer flags. The growing corpus
# lives in target/fuzz-corpus/<target> (not committed); a crash is saved by libFuzzer under
# fuzz/artifacts/<target>/ and fails the run: turn it into a regression test.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-30}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(decode scan evtx exceptions c_json c_utf16 correlate); fi
export RUSTC_BOOTSTRAP=1
corpus_root=../target/fuzz-corpus
for target in "${targets[@]}"; do
  corpus=$corpus_root/$target
  mkdir -p "$corpus" "artifacts/$target"
  cp -n seeds/"$target"/* "$corpus"/ 2>/dev/null || true
  extra=()
  # The evtx crate reserves (without touching) capacity sized from counts in the file: up
  # to 16 GiB of address space for a crafted substitution count. Let libFuzzer allow such
  # reservations and judge by resident memory instead (see docs/robustness.md).
  if [ "$target" = evtx ]; then extra=(-malloc_limit_mb=17000); fi
  echo "== fuzz $target for ${seconds}s"
  cargo fuzz run "$target" "$corpus" -- -max_total_time="$seconds" -max_len=262144 -timeout=10 -rss_limit_mb=2048 "${extra[@]}" \
    -artifact_prefix="artifacts/$target/" -print_final_stats=1 2>&1 | tee "../target/fuzz-$target.log" | grep -E "^(#[0-9]+: cov|Done|stat::number_of_executed_units|stat::peak_rss|==[0-9]+==ERROR|SUMMARY|artifact_prefix)" || true
  if ls "artifacts/$target"/crash-* "artifacts/$target"/oom-* "artifacts/$target"/timeout-* >/dev/null 2>&1; then
    echo "fuzz $target: found a failing input in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  grep -q "^Done" "../target/fuzz-$target.log" || { echo "fuzz $target: did not finish cleanly" >&2; tail -20 "../target/fuzz-$target.log" >&2; exit 1; }
done
