#!/usr/bin/env python3
"""Every citation in the tree resolves inside the repository.

usage: docs_citations_test.py SOURCE_ROOT

Fails when a tracked file (code comment, document, test, script)
  * cites a document that is not in the repository: the protocol study, the architecture and
    DPDK notes or the seed protocol text this project was started from, anything under a sibling
    `shared` directory, a numbered section sign or a numbered invariant of those notes (cite by
    heading name instead); the patterns are OUTSIDE below;
  * cites `docs/<file>.md, "<Heading>"` (one or more quoted headings after the comma, separated
    by `,` `;` or `and`) where docs/<file>.md does not exist or has no such heading.
A citation may wrap across comment lines: comment markers at the start of a line are ignored.
A heading matches with or without a leading section number ("5. ") and a trailing parenthesis
(" (`dataplane/worker.cpp`)"). This file is excluded from its own patterns.
"""
import os
import re
import subprocess
import sys

SELF = "tests/scripts/docs_citations_test.py"

# Documents outside the repository, by the names they were cited with. Their names and the
# notes folder's are assembled from pieces, so that this file does not itself cite them.
NOTES_DIR = "sha" + "red"
OUTSIDE_NAMES = ["WI" + r"RE\.md", r"\bARCHI" + r"TECTURE\b", "DPDK-" + "NOTES", "seed-" + "PROTOCOL"]
OUTSIDE = re.compile(
    "|".join(OUTSIDE_NAMES) + r"|§\s*\d|\b[Ii]nvariants? \d"
    + r"|\.\./" + NOTES_DIR + r"\b|/work/" + NOTES_DIR + r"\b")

# `docs/x.md, "A"`, `docs/x.md, "A", "B"`, `docs/x.md, "A" and "B"`.
CITATION = re.compile(r'(docs/[\w.-]+\.md),\s+("[^"\n]+"(?:\s*(?:,|;|\band\b)\s*"[^"\n]+")*)')
QUOTED = re.compile(r'"([^"\n]+)"')
# Comment markers a wrapped citation continues after.
CONTINUATION = re.compile(r'^\s*(?://+|#+|\*+|--|;+)?\s?')


def tracked_files(root: str):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z"], check=True,
                             capture_output=True).stdout.decode()
        return [p for p in out.split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        found = []
        for d, dirs, files in os.walk(root):
            dirs[:] = [x for x in dirs if not x.startswith((".git", "build"))]
            found += [os.path.relpath(os.path.join(d, f), root) for f in files]
        return found


def headings(markdown: str):
    """Every heading text of a markdown document, outside fenced code blocks, with variants."""
    names, fenced = set(), False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if fenced or not m:
            continue
        text = m.group(1)
        unnumbered = re.sub(r"^\d+(\.\d+)*\.?\s+", "", text)
        for t in (text, unnumbered):
            names.add(t)
            names.add(re.sub(r"\s+\(.*\)$", "", t))
    return names


def joined(text: str):
    """The text with each line's leading comment marker removed and lines joined by one space;
    returns it and, per character offset of a line start, that line's number."""
    parts, starts, pos = [], [], 0
    for line in text.split("\n"):
        stripped = CONTINUATION.sub("", line, count=1)
        starts.append(pos)
        parts.append(stripped)
        pos += len(stripped) + 1
    return " ".join(parts), starts


def line_of(starts, offset: int) -> int:
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= offset:
            lo = mid
        else:
            hi = mid - 1
    return lo + 1


def check(files: dict):
    """files: path -> text. Returns a list of "path:line: problem" strings."""
    problems, heading_cache = [], {}
    for path, text in sorted(files.items()):
        if path == SELF:
            continue
        for n, line in enumerate(text.split("\n"), 1):
            m = OUTSIDE.search(line)
            if m:
                problems.append(f"{path}:{n}: cites a document outside the repository "
                                f"({m.group(0)!r}); cite docs/<file>.md, \"<Heading>\" instead")
        flat, starts = joined(text)
        for m in CITATION.finditer(flat):
            doc = m.group(1)
            if doc not in heading_cache:
                heading_cache[doc] = headings(files[doc]) if doc in files else None
            known = heading_cache[doc]
            where = f"{path}:{line_of(starts, m.start())}"
            if known is None:
                problems.append(f"{where}: cites {doc}, which does not exist")
                continue
            for name in QUOTED.findall(m.group(2)):
                name = re.sub(r"\s+", " ", name)
                if name not in known:
                    problems.append(f"{where}: {doc} has no heading \"{name}\"")
    return problems


def self_test() -> bool:
    """The checker itself: a planted bad citation of each kind must be reported, good ones not."""
    files = {
        "docs/a.md": "# A\n## Frames\n### 5. Exception path (`x.cpp`)\n```\n# not a heading\n```\n",
        "good.cpp": '// docs/a.md, "Frames"; docs/a.md, "Exception path", "5. Exception path"\n'
                    '// wrapped (docs/a.md, "Exception\n// path")\n',
        "bad1.cpp": "// see WIRE" ".md\n",
        "bad2.py": "# ARCHITECT" "URE invariant 1\n",
        "bad3.md": "numbered section \u00a7" "3.1\n",
        "bad4.cpp": '// docs/a.md, "Frames", "Nope"\n',
        "bad5.cpp": '// docs/missing.md, "Frames"\n',
        "bad6.sh": "# docs/a.md, \"not a heading\"\n",
        "bad7.md": "the control plane restarts (invariant 1)\n",
        "bad8.cpp": "// see ../" + NOTES_DIR + "/notes.md\n",
    }
    got = check(files)
    want = {"bad1.cpp", "bad2.py", "bad3.md", "bad4.cpp", "bad5.cpp", "bad6.sh", "bad7.md", "bad8.cpp"}
    reported = {p.split(":")[0] for p in got}
    if reported != want or len(got) != len(want):
        print("FAIL: self-test of the checker:\n  " + "\n  ".join(got))
        return False
    return True


def main() -> int:
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    if not self_test():
        return 1
    files = {}
    for rel in tracked_files(root):
        path = os.path.join(root, rel)
        try:
            with open(path, encoding="utf-8") as f:
                files[rel] = f.read()
        except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
            continue  # binary (pcaps) or a deleted-but-tracked file
    problems = check(files)
    for p in problems:
        print(p)
    cited = sum(len(CITATION.findall(joined(t)[0])) for t in files.values())
    print(f"{len(files)} files, {cited} docs/ citations, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
