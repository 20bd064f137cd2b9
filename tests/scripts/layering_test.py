#!/usr/bin/env python3
"""What two programs share lives in lib/: no file of tools/ or client/ includes a file of
dataplane/ or controlplane/, and no meson.build of theirs links those directories' libraries
(dataplane_core_dep, controlplane libraries). docs/architecture.md, "Directory map".

An `#include "x"` must resolve to the including file's own directory, another directory of the
same top (tools/pcapgen uses tools/loadgen's headers), lib/, or a generated header of lib/util. Anything else (in particular a header found only in dataplane/ or controlplane/) fails,
naming the file, line and header. Usage: layering_test.py [SOURCE_ROOT]
"""
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
TOPS = ("tools", "client")
GENERATED = {"util/version.hpp"}
FORBIDDEN_DEPS = re.compile(r"\b(dataplane_core(_dep)?|rustun_controlplane(_dep)?|controlplane_[a-z_]*dep)\b")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')

def same_top_dirs(top):
    return [d for d, _, _ in os.walk(os.path.join(ROOT, top))]


failures = []
for top in TOPS:
    top_dirs = same_top_dirs(top)
    for d, _, names in os.walk(os.path.join(ROOT, top)):
        for n in names:
            path = os.path.join(d, n)
            rel = os.path.relpath(path, ROOT)
            if n == "meson.build":
                for i, line in enumerate(open(path, encoding="utf-8"), 1):
                    code = line.split("#", 1)[0]
                    if FORBIDDEN_DEPS.search(code):
                        failures.append(f"{rel}:{i}: links a library of dataplane/ or controlplane/: {line.strip()}")
                continue
            if not n.endswith((".cpp", ".hpp", ".h", ".cc")):
                continue
            for i, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                inc = m.group(1)
                if inc in GENERATED or os.path.exists(os.path.join(ROOT, "lib", inc)):
                    continue
                if any(os.path.exists(os.path.join(t, inc)) for t in [d] + top_dirs):
                    continue
                where = [t for t in ("dataplane", "controlplane") if os.path.exists(os.path.join(ROOT, t, inc))]
                failures.append(f"{rel}:{i}: includes \"{inc}\"" + (f", a file of {where[0]}/" if where else f", found neither in {top}/ nor in lib/"))

for f in failures:
    print("FAIL - " + f)
print(f"{'FAIL' if failures else 'ok'}: {len(failures)} layering violation(s) in {', '.join(TOPS)}")
sys.exit(1 if failures else 0)
