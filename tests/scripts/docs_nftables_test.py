#!/usr/bin/env python3
"""Every nftables ruleset in the documents loads: `nft -c -f` (check only, nothing applied).

usage: docs_nftables_test.py SOURCE_ROOT

A fenced code block whose first line starts with `table ` in README.md or docs/*.md is an
nftables ruleset. Skips (77) without nft or without the privilege nft needs to parse (root or
CAP_NET_ADMIN in a user namespace).
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile


def rulesets(root: str):
    files = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md")))
    for path in files:
        text = open(path, encoding="utf-8").read()
        for m in re.finditer(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M):
            body = m.group(1)
            if body.lstrip().startswith("table "):
                line = text.count("\n", 0, m.start()) + 2
                yield f"{os.path.relpath(path, root)}:{line}", body


def main() -> int:
    root = sys.argv[1]
    nft = shutil.which("nft") or ("/usr/sbin/nft" if os.path.exists("/usr/sbin/nft") else None)
    if nft is None:
        print("SKIP: no nft")
        return 77
    found = list(rulesets(root))
    if not found:
        print("FAIL: no nftables ruleset found in the documents (the extraction is broken)")
        return 1
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for where, body in found:
            path = os.path.join(tmp, "rules.nft")
            with open(path, "w") as f:
                f.write(body)
            r = subprocess.run([nft, "-c", "-f", path], capture_output=True, text=True, timeout=30)
            if r.returncode != 0 and ("Operation not permitted" in r.stderr or "Permission denied" in r.stderr):
                print(f"SKIP: nft -c needs privileges here: {r.stderr.strip()}")
                return 77
            if r.returncode != 0:
                failures += 1
                print(f"FAIL {where}: nft -c -f: {r.stderr.strip()}")
            else:
                print(f"ok   {where}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
