#!/usr/bin/env python3
"""Every rustun binary answers --version and --help (issue: one CLI convention, versions).

usage: cli_version_help_test.py SOURCE_ROOT PROJECT_VERSION BINARY...

For each binary: `--version` exits 0 and prints exactly "<name> <version>\n" on stdout, where
<version> is `git describe --always --dirty` of SOURCE_ROOT (the build embeds it through meson's
vcs_tag, lib/util/version.hpp.in) or PROJECT_VERSION when the tree has no git; `-V` is the same;
`--help` exits 0 with a non-empty usage text on stdout; a bogus option exits 2 with ONE line on
stderr that names it and says "try --help", nothing on stdout (lib/util/cli.hpp, docs/cli.md).
Nothing here needs root, hugepages or a configuration: the DPDK binaries must answer before
rte_eal_init.
"""
import os
import subprocess
import sys


def expected_versions(root: str, project_version: str) -> set:
    ok = {project_version}
    try:
        r = subprocess.run(["git", "-C", root, "describe", "--always", "--dirty"],
                           capture_output=True, text=True, timeout=10)
        if r.returncode == 0 and r.stdout.strip():
            d = r.stdout.strip()
            # The build and this run may see different working-tree states (dirty or not).
            ok = {d, d.removesuffix("-dirty"), d.removesuffix("-dirty") + "-dirty"}
    except (OSError, subprocess.TimeoutExpired):
        pass
    return ok


def run(path: str, arg: str):
    return subprocess.run([path, arg], capture_output=True, text=True, timeout=20,
                          stdin=subprocess.DEVNULL)


def main() -> int:
    root, project_version, binaries = sys.argv[1], sys.argv[2], sys.argv[3:]
    if not binaries:
        print("no binaries given", file=sys.stderr)
        return 2
    versions = expected_versions(root, project_version)
    failures = []
    for path in binaries:
        name = os.path.basename(path)
        for arg in ("--version", "-V"):
            r = run(path, arg)
            line = r.stdout
            parts = line.rstrip("\n").split(" ")
            if r.returncode != 0:
                failures.append(f"{name} {arg}: exit {r.returncode} (stderr: {r.stderr.strip()[:200]})")
            elif not line.endswith("\n") or line.count("\n") != 1 or len(parts) != 2 or parts[0] != name:
                failures.append(f"{name} {arg}: stdout {line!r}, expected '{name} <version>\\n'")
            elif parts[1] not in versions:
                failures.append(f"{name} {arg}: version {parts[1]!r}, expected one of {sorted(versions)}")
        for arg in ("--help", "-h"):
            r = run(path, arg)
            if r.returncode != 0:
                failures.append(f"{name} {arg}: exit {r.returncode} (stderr: {r.stderr.strip()[:200]})")
            elif not r.stdout.strip():
                failures.append(f"{name} {arg}: nothing on stdout (stderr: {r.stderr.strip()[:200]})")
            elif "usage" not in r.stdout.lower():
                failures.append(f"{name} {arg}: stdout has no usage text: {r.stdout[:200]!r}")
        for arg in ("--bogus-option", "--bogus-option=1", "-Z"):
            r = run(path, arg)
            shown = arg.split("=")[0]
            if r.returncode != 2:
                failures.append(f"{name} {arg}: exit {r.returncode}, expected 2 (stderr: {r.stderr.strip()[:200]})")
            elif f"'{shown}'" not in r.stderr or "try --help" not in r.stderr or r.stderr.count("\n") != 1:
                failures.append(f"{name} {arg}: stderr {r.stderr!r}: expected one line naming '{shown}' and 'try --help'")
            elif r.stdout:
                failures.append(f"{name} {arg}: stdout not empty: {r.stdout[:200]!r}")
        if not any(f.startswith(name + " ") for f in failures):
            print(f"ok   {name}: {run(path, '--version').stdout.strip()}")
    for f in failures:
        print("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
