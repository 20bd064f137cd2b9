#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build-fuzz/, -Dfuzz=true) and runs each one for a
# bounded time on a copy of its seed corpus in tests/fuzz/corpus/<name>/.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
# Exits non-zero if a target crashes, leaks or times out; the crash input is kept in build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}

if [ ! -f build-fuzz/build.ninja ]; then
  CXX=clang++ meson setup build-fuzz -Dfuzz=true -Dbuildtype=debugoptimized -Db_ndebug=false >/dev/null
fi
ninja -C build-fuzz > build-fuzz/last-build.log 2>&1 || { tail -n 40 build-fuzz/last-build.log >&2; exit 1; }

# UBSan: any report fails the run, except known ones in third-party headers (ubsan.supp).
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$PWD/tests/fuzz/ubsan.supp${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

status=0
for bin in build-fuzz/tests/fuzz/fuzz_*; do
  [ -f "$bin" ] && [ -x "$bin" ] || continue
  name=$(basename "$bin"); name=${name#fuzz_}
  seeds=tests/fuzz/corpus/$name
  work=build-fuzz/corpus-$name
  mkdir -p "$work" build-fuzz/artifacts
  printf '[fuzz] %-16s %3ss ... ' "$name" "$secs"
  if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix=build-fuzz/artifacts/"$name"- "$work" "$seeds" > build-fuzz/$name.log 2>&1; then
    echo "ok ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' build-fuzz/$name.log | grep -o '[0-9]*$') runs)"
  else
    echo "FAILED (log: build-fuzz/$name.log)"
    tail -n 30 build-fuzz/$name.log
    status=1
  fi
done
exit $status
