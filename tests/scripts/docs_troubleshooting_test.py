#!/usr/bin/env python3
"""docs/troubleshooting.md has a row for every counter of the X-macro tables, and no row for a
counter that does not exist.
usage: docs_troubleshooting_test.py SOURCE_ROOT
Each table below maps a header's X-macro to the section of docs/troubleshooting.md whose table
lists its counters: a row is a line starting with "| `<name>` |" between that section's heading
and the next "## " heading. A counter added to a table without a row (causes and fixes) fails.
"""
import os
import re
import sys

TABLES = [
    ("lib/shm/dp_counters.hpp", "RUSTUN_DP_COUNTERS", "Dataplane counters"),
    ("controlplane/counters.hpp", "RUSTUN_CP_COUNTERS", "Control-plane counters"),
    ("client/counters.hpp", "RUSTUN_CLIENT_COUNTERS", "Client counters"),
]


def macro_names(path, macro):
    text = open(path, encoding="utf-8").read()
    start = text.index(f"#define {macro}(X)")
    body = []
    for line in text[start:].splitlines()[1:]:
        body.append(line)
        if not line.rstrip().endswith("\\"):
            break
    return re.findall(r"\bX\((\w+),", "\n".join(body))


def section_rows(markdown, heading):
    rows, inside = [], False
    for line in markdown.splitlines():
        if line.startswith("## "):
            inside = line[3:].strip() == heading
            continue
        m = re.match(r"\| `(\w+)` \|", line)
        if inside and m:
            rows.append(m.group(1))
    return rows


def main():
    root = sys.argv[1]
    doc = open(os.path.join(root, "docs/troubleshooting.md"), encoding="utf-8").read()
    errors = []
    for header, macro, heading in TABLES:
        names = macro_names(os.path.join(root, header), macro)
        if not names:
            errors.append(f"{header}: no counters found in {macro}")
        rows = section_rows(doc, heading)
        if not rows:
            errors.append(f'docs/troubleshooting.md: no section "## {heading}" with rows')
        for n in names:
            if n not in rows:
                errors.append(f'docs/troubleshooting.md, "{heading}": no row for `{n}` ({header})')
        for r in rows:
            if r not in names:
                errors.append(f'docs/troubleshooting.md, "{heading}": row `{r}` is not a counter of {header}')
        dup = {r for r in rows if rows.count(r) > 1}
        for r in sorted(dup):
            errors.append(f'docs/troubleshooting.md, "{heading}": `{r}` has more than one row')
    for e in errors:
        print(e)
    if errors:
        sys.exit(1)
    print("docs-troubleshooting: every counter has a row")


if __name__ == "__main__":
    main()
