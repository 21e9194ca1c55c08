#!/usr/bin/env bash
# Builds every libFuzzer target (cpp/fuzz/fuzz_*.cpp) with clang, ASan and
# UBSan in build/fuzz, then runs each for SECONDS (default 60).
#   scripts/fuzz.sh [SECONDS]
# Corpora grow in build/fuzz/corpus/<target>, seeded from cpp/fuzz/seeds/<target>
# when present (the webhook and routing targets also from the samples in tests/data/webhooks,
# plus ../shared/fixtures/webhooks beside the checkout when that exists).
# Crash inputs land in build/fuzz/artifacts/<target>/. Exits non-zero when any
# target crashes, leaks or trips a sanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
case "$seconds" in '' | *[!0-9]*)
  echo "usage: scripts/fuzz.sh [seconds]" >&2
  exit 2
  ;;
esac
if ! command -v clang++ >/dev/null && [ "$(id -u)" -eq 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null
fi
command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (apt-get install clang)" >&2; exit 1; }

build=build/fuzz
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DWACLOUD_BUILD_FUZZERS=ON -DWACLOUD_BUILD_PYTHON=OFF -DWACLOUD_BUILD_TESTS=OFF >/dev/null
targets=()
for source in cpp/fuzz/fuzz_*.cpp; do
  [ -e "$source" ] && targets+=("$(basename "$source" .cpp)")
done
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no targets in cpp/fuzz" >&2; exit 1; }
cmake --build "$build" -j "${FUZZ_JOBS:-1}" --target "${targets[@]}"

failed=()
for target in "${targets[@]}"; do
  corpus=$build/corpus/$target
  artifacts=$build/artifacts/$target
  mkdir -p "$corpus" "$artifacts"
  [ -d "cpp/fuzz/seeds/$target" ] && cp -n cpp/fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
  if [ "$target" = fuzz_webhook ] || [ "$target" = fuzz_routing ]; then
    for samples in tests/data/webhooks ../shared/fixtures/webhooks; do
      [ -d "$samples" ] && cp -n "$samples"/*.json "$corpus"/ 2>/dev/null || true
    done
  fi
  echo "fuzz: $target for ${seconds}s (corpus: $(find "$corpus" -type f | wc -l) inputs)"
  log=$build/$target.log
  status=0
  "$build/cpp/$target" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ "$status" -ne 0 ]; then
    failed+=("$target")
    echo "fuzz: $target FAILED (exit $status); log: $log, inputs: $artifacts/" >&2
    grep -E "ERROR:|SUMMARY:|runtime error:|Test unit written" "$log" | head -20 >&2 || true
  else
    echo "fuzz: $target ok: ${runs:-?} runs, ${execs:-?} exec/s, corpus $(find "$corpus" -type f | wc -l)"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in: ${failed[*]}" >&2
  exit 1
fi
