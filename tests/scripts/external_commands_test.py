#!/usr/bin/env python3
"""Every external command that scripts/ and tests/ run must come from a package that
scripts/setup.sh installs (or from Debian's essential/required set, which every machine has).

A fresh Debian 12 machine has only what setup.sh installs: a command that happens to be on the
developer's machine (ethtool, say) passes there and fails on the next clean machine. This test
finds the commands statically, resolves each one to its Debian package with `dpkg -S`, and fails
naming the command, the file and line that uses it and the package to add to setup.sh.

How commands are found (a heuristic, tuned to this tree's style):
  * shell files (*.sh): the first word of every simple command: at the start of a line and after
    | || && ; ( $( ` then do else elif ! and after wrapper commands (exec, timeout N, ip netns
    exec NS, env A=B, setsid, nohup, taskset -c N, stdbuf -oL);
  * Python files: the first string of a list literal passed to subprocess.* or to a helper whose
    name ends in `run`/`sh`/`popen` (`run(["ip", ...])`);
  * meson.build files: find_program('name').
Words that bash knows as builtins or keywords, functions defined in the scanned files and words
with shell syntax in them are skipped. Usage: external_commands_test.py [SOURCE_ROOT]
"""
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))

# Commands that a script uses only when present and skips (exit 77 or a fallback) otherwise,
# with the reason. Keep this list short and explained.
OPTIONAL = {
    "pktgen": "built from source by hand (docs/load-testing.md) when present; the tests skip otherwise",
    "dpdk-devbind.py": "bare-metal lab only (docs/operations.md), never run by a test",
    "perf": "optional profiling in benchmark scripts, skipped when absent",
}

# A fresh machine's PATH for root: what a developer added (pyenv, /usr/local) does not count.
FRESH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
WRAPPERS = {"exec", "nohup", "setsid", "command", "builtin", "time", "sudo", "xargs", "then", "do",
            "else", "elif", "if", "while", "until", "!", "{", "}", "(", ")"}
SEPARATORS = re.compile(r"\|\||&&|\$\(|[|;`(]|\bthen\b|\bdo\b|\belse\b|\belif\b|\bif\b|\bwhile\b|\buntil\b|!\s")
WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def tracked_files():
    out = subprocess.run(["git", "-C", ROOT, "ls-files", "scripts", "tests", "meson.build"],
                         capture_output=True, text=True)
    if out.returncode != 0:  # not a git checkout: walk the tree
        files = []
        for top in ("scripts", "tests"):
            for d, _, names in os.walk(os.path.join(ROOT, top)):
                files += [os.path.relpath(os.path.join(d, n), ROOT) for n in names]
        return files
    return out.stdout.split()


def strip_wrappers(words):
    """Drops leading wrapper commands and their arguments; returns the remaining words."""
    i = 0
    while i < len(words):
        w = words[i]
        if w in WRAPPERS:
            i += 1
        elif re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", w):  # VAR=value prefix
            i += 1
        elif w == "env":
            i += 1
            while i < len(words) and (words[i].startswith("-") or "=" in words[i]):
                i += 1
        elif w == "timeout":
            i += 1
            while i < len(words) and words[i].startswith("-"):
                i += 1 + (words[i] in ("-s", "-k", "--signal", "--kill-after"))
            i += 1  # the duration
        elif w == "taskset":
            i += 1
            while i < len(words) and words[i].startswith("-"):
                i += 1
            i += 1  # the mask / cpu list
        elif w == "stdbuf":
            i += 1
            while i < len(words) and words[i].startswith("-"):
                i += 1
        elif w == "ip" and words[i + 1:i + 3] == ["netns", "exec"]:
            i += 4  # ip netns exec NAME
        else:
            break
    return words[i:]


class _ShellLexer:
    """Keeps the code of a shell file and blanks what is data: comments, the text of quoted
    strings (but not the $( ) command substitutions inside double quotes, which are code) and
    here-document bodies. Newlines are kept, so line numbers stay right."""

    def __init__(self, text):
        self.t, self.i, self.out, self.heredocs, self.joined = text, 0, [], [], 0

    def run(self):
        self.code(None)
        return "".join(self.out)

    def code(self, stop):
        t, depth = self.t, 0
        while self.i < len(t):
            c = t[self.i]
            if stop == ")" and c == ")" and depth == 0:
                self.out.append(c)
                self.i += 1
                return
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            if c == "#" and (self.i == 0 or t[self.i - 1] in " \t\n;(|&"):
                while self.i < len(t) and t[self.i] != "\n":
                    self.i += 1
            elif c == "'":
                j = t.find("'", self.i + 1)
                j = len(t) if j < 0 else j
                self.out.append(" @" + "\n" * t.count("\n", self.i, j))
                self.i = j + 1
            elif c == '"':
                self.i += 1
                self.out.append(" @")
                self.dquote()
            elif c == "\\" and t.startswith("\\\n", self.i):
                self.out.append(" ")  # a continued line: the newline is kept at the line's end
                self.joined += 1
                self.i += 2
            elif c == "\\":
                self.out.append(t[self.i:self.i + 2])
                self.i += 2
            elif c == "\n" and self.joined:
                self.out.append("\n" * (self.joined + 1))
                self.joined = 0
                self.i += 1
            elif t.startswith("$(", self.i) and not t.startswith("$((", self.i):
                self.out.append("$(")
                self.i += 2
                self.code(")")
            elif t.startswith("<<", self.i) and not t.startswith("<<<", self.i):
                m = re.match(r"<<-?\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)['\"]?", t[self.i:])
                self.out.append(" ")
                if m:
                    self.heredocs.append(m.group(1))
                    self.i += m.end()
                else:
                    self.i += 2
            elif c == "\n" and self.heredocs:
                self.out.append("\n")
                self.i += 1
                for tag in self.heredocs:  # skip each body up to its terminator line
                    while self.i < len(t):
                        j = t.find("\n", self.i)
                        j = len(t) if j < 0 else j
                        line = t[self.i:j]
                        self.out.append("\n")
                        self.i = j + 1
                        if line.strip() == tag:
                            break
                self.heredocs = []
            else:
                self.out.append(c)
                self.i += 1

    def dquote(self):
        t = self.t
        while self.i < len(t):
            c = t[self.i]
            if c == '"':
                self.i += 1
                return
            if c == "\\":
                self.i += 2
            elif t.startswith("$(", self.i) and not t.startswith("$((", self.i):
                self.out.append("$(")  # a command substitution: code again
                self.i += 2
                self.code(")")
            else:
                if c == "\n":
                    self.out.append("\n")
                self.i += 1


def shell_code(text):
    return _ShellLexer(text).run()


def blank(m):
    return "\n" * m.group(0).count("\n") + " @ "


def shell_commands(path, text):
    found = []
    text = shell_code(text)
    # Data, not commands: arithmetic $(( )) and (( )), array literals NAME=( ... ).
    text = re.sub(r"\$?\(\((?:[^()]|\([^()]*\))*\)\)", blank, text)
    text = re.sub(r"[A-Za-z_][A-Za-z0-9_]*\+?=\([^)]*\)", blank, text)
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        # A case arm's pattern ("a|b) cmd ;;") is not a command.
        line = re.sub(r"^\(?[^()\s]+\)(\s|$)", " ", line)
        for seg in SEPARATORS.split(line):
            words = strip_wrappers(seg.split())
            if words and WORD.match(words[0]):
                found.append((words[0], lineno))
    return found


def python_commands(text):
    found = []
    for m in re.finditer(r"(?:subprocess\.\w+|\b\w*(?:run|sh|popen|check_output|call))\(\s*\[\s*[\"']([A-Za-z0-9][A-Za-z0-9._+-]*)[\"']", text):
        found.append((m.group(1), text.count("\n", 0, m.start()) + 1))
    return found


def meson_commands(text):
    return [(m.group(1), text.count("\n", 0, m.start()) + 1)
            for m in re.finditer(r"find_program\('([^'/]+)'", text)]


def setup_packages():
    text = open(os.path.join(ROOT, "scripts", "setup.sh")).read()
    # Comments go first: a ")" in a comment of the list does not end it.
    body = text[text.index("PACKAGES=(") + len("PACKAGES=("):]
    words = []
    for line in body.splitlines():
        code = re.sub(r"#.*", "", line)
        words += code.split(")")[0].split()
        if ")" in code:
            break
    return set(words)


def dependency_closure(packages):
    """The packages that installing `packages` brings in (Depends and Pre-Depends, recursively;
    setup.sh installs with --no-install-recommends)."""
    r = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                        "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"] + sorted(packages),
                       capture_output=True, text=True)
    names = set(packages)
    for line in r.stdout.splitlines():
        line = line.strip()
        if line.startswith(("Depends:", "PreDepends:")):
            line = line.split(":", 1)[1].strip()
        if line and not line.startswith("<") and " " not in line and ":" not in line:
            names.add(line)
    return names


def bash_words():
    """Bash's builtins and keywords (one call)."""
    r = subprocess.run(["bash", "-c", "compgen -b; compgen -k"], capture_output=True, text=True)
    return set(r.stdout.split())


def packages_of(paths):
    """{path: package} for every path that a Debian package owns (one dpkg -S call)."""
    variants = {}
    for path in paths:
        for p in (path, os.path.realpath(path)):
            # usr-merge: dpkg may record /bin/x for /usr/bin/x and the other way round
            for v in (p, p[4:] if p.startswith("/usr/") else "/usr" + p):
                variants.setdefault(v, set()).add(path)
    r = subprocess.run(["dpkg", "-S"] + sorted(variants), capture_output=True, text=True)
    owner = {}
    for line in r.stdout.splitlines():
        pkg, _, owned = line.partition(": ")
        for path in variants.get(owned.strip(), ()):
            owner.setdefault(path, pkg.split(":")[0].split(",")[0].strip())
    return owner


def always_present(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Essential} ${Priority}", pkg], capture_output=True, text=True)
    fields = r.stdout.split()
    return "yes" in fields or "required" in fields


def main():
    files = tracked_files()
    uses = {}  # command -> first "file:line"
    functions = set()
    for rel in files:
        path = os.path.join(ROOT, rel)
        if not os.path.isfile(path):
            continue
        try:
            text = open(path, encoding="utf-8").read()
        except (UnicodeDecodeError, OSError):
            continue
        if rel.endswith(".sh"):
            functions.update(re.findall(r"^\s*(?:function\s+)?([A-Za-z_][A-Za-z0-9_-]*)\s*\(\)", text, re.M))
            found = shell_commands(rel, text)
        elif rel.endswith(".py"):
            found = python_commands(text)
        elif os.path.basename(rel) == "meson.build":
            found = meson_commands(text)
        else:
            continue
        for cmd, lineno in found:
            uses.setdefault(cmd, f"{rel}:{lineno}")

    packages = dependency_closure(setup_packages())
    builtin = bash_words()
    problems, checked, resolved = [], 0, {}
    for cmd in sorted(uses):
        if cmd in functions or cmd in builtin or cmd in OPTIONAL:
            continue
        where = uses[cmd]
        # Our own build outputs and scripts are not packages.
        if cmd.startswith("rustun") or cmd.endswith((".sh", ".py", ".lua")) and not shutil.which(cmd):
            continue
        path = shutil.which(cmd, path=FRESH_PATH)
        if path is None:
            problems.append(f"{cmd} (used at {where}) is not installed on this machine: add its package to "
                            "scripts/setup.sh, or list it in OPTIONAL here with the reason")
            continue
        resolved[cmd] = path
    owners = packages_of(set(resolved.values()))
    for cmd, path in sorted(resolved.items()):
        where = uses[cmd]
        pkg = owners.get(path)
        checked += 1
        if pkg is None:
            problems.append(f"{cmd} ({path}, used at {where}) belongs to no Debian package: a fresh machine lacks it")
        elif pkg not in packages and not always_present(pkg):
            problems.append(f"{cmd} (used at {where}) comes from package '{pkg}', which scripts/setup.sh does not install")
    if os.environ.get("VERBOSE"):
        for cmd in sorted(uses):
            print(f"  {cmd:24} {uses[cmd]}")
    for p in problems:
        print("FAIL:", p)
    print(f"external commands: {checked} resolved to packages, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
