#!/usr/bin/env bash
# Clang's thread-safety analysis over the control plane (docs/testing.md): every source of
# controlplane/ compiled by clang++ with -Wthread-safety, warnings as errors, in its own build
# directory (build-tsa/, -O0: only the diagnostics matter). The locking rules are written as
# annotations (controlplane/thread_annotations.hpp: GUARDED_BY, REQUIRES, ...); a use that breaks
# one, or any other warning clang finds in these sources, fails this step.
# Usage: scripts/thread-safety.sh  (exit 0: zero warnings)
set -uo pipefail
cd "$(dirname "$0")/.."

dir=build-tsa
args="-Wthread-safety -Werror=thread-safety"
if [ ! -f "$dir/build.ninja" ]; then
  log=$(mktemp)
  CXX=clang++ meson setup "$dir" -Dwerror=true -Doptimization=0 -Ddebug=false -Dcpp_args="$args" > "$log" 2>&1 ||
    { tail -n 20 "$log"; rm -f "$log"; echo "thread-safety: meson setup failed" >&2; exit 1; }
  rm -f "$log"
else
  meson configure "$dir" -Dwerror=true -Dcpp_args="$args" > /dev/null || exit 1
fi
# Regenerate first if a meson.build changed, so that the target list below is current.
ninja -C "$dir" build.ninja > /dev/null || exit 1
# The control plane's objects only (its library, rustun-controlplane's main, rustunctl).
targets=$(ninja -C "$dir" -t targets all 2>/dev/null | grep -E '^controlplane/[^:]*\.o:' | cut -d: -f1)
[ -n "$targets" ] || { echo "thread-safety: no control-plane targets in $dir" >&2; exit 1; }
# shellcheck disable=SC2086
ninja -C "$dir" $targets > "$dir/thread-safety.log" 2>&1
status=$?
warnings=$(grep -cE '(warning|error): ' "$dir/thread-safety.log")
if [ "$status" -ne 0 ] || [ "$warnings" -ne 0 ]; then
  grep -E -A3 '(warning|error): ' "$dir/thread-safety.log" | head -n 60
  echo "thread-safety: $warnings diagnostic(s) in the control plane (clang -Wthread-safety)" >&2
  exit 1
fi
echo "thread-safety: $(echo "$targets" | wc -w) control-plane sources, zero warnings"
