#!/usr/bin/env python3
"""Rules of the source tree that a compiler does not check (ctest source_rules):

1. Folders depend on each other without a cycle. A file in src/A that
   includes a header of folder B (an internal "B/x.h", or a public
   "shardml/x.h" that B implements) makes A depend on B; the graph of
   folders must be acyclic, and src/cli (the program) is above all of them.
2. Public headers (include/shardml/) include only public headers and the
   system's, so that an installed consumer compiles them.
3. Every folder says its job in one line at the top of its main header.
4. Flags belong to src/cli: no option name ("--lr") in a string literal of
   the library; comments may mention one only to explain CLI behaviour,
   marked "(CLI)".

    python3 tests/cli/source_rules.py REPO
"""
import os
import re
import subprocess
import sys

# Which folder implements each public header.
PUBLIC_OWNER = {
    "shardml.h": None, "version.h": None, "api.h": None,  # umbrella and macros: no code
    "error.h": "base", "signals.h": "base", "comm.h": "mpi",
    "dataset.h": "data", "split.h": "data", "prep.h": "data",
    "model.h": "nn", "knn.h": "knn",
    "optimizer.h": "train", "train.h": "train", "job.h": "train", "checkpoint.h": "train",
    "cv.h": "tune", "groups.h": "tune", "tasks.h": "tune", "search.h": "tune",
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# An option name: two dashes, a lower-case word, inside a string literal.
STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def tracked(repo, *paths):
    out = subprocess.run(["git", "-C", repo, "ls-files", "-co", "--exclude-standard", *paths], check=True,
                         capture_output=True, text=True).stdout.split()
    return [f for f in out if f.endswith((".c", ".h")) and os.path.exists(os.path.join(repo, f))]


def header_folder(name, including_file):
    """The folder a quoted include refers to, or None for a folder-local one."""
    if name.startswith("shardml/"):
        return PUBLIC_OWNER.get(name.split("/", 1)[1], "?")
    if "/" in name and not name.startswith("."):
        return name.split("/", 1)[0]
    return None  # "options.h" beside the file


def find_cycle(graph):
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if not state.get(m):
                c = visit(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if not state.get(n):
            c = visit(n)
            if c:
                return c
    return None


def main():
    repo = sys.argv[1]
    bad = []
    files = tracked(repo, "src", "include")
    if os.path.isdir(os.path.join(repo, "src", "dist")):
        bad.append("a folder named src/dist (it reads as build output): name folders for what they hold")
    # Every folder says its job in one line at the top of its main header.
    firsts = {open(os.path.join(repo, f), encoding="utf-8").readline() for f in files if f.endswith(".h")}
    for folder in sorted({f.split("/")[1] for f in files if f.startswith("src/")}):
        if not any(line.startswith(f"/* src/{folder}/: ") for line in firsts):
            bad.append(f"src/{folder}: no header begins with its one-line job (\"/* src/{folder}/: ... */\")")
    for h in os.listdir(os.path.join(repo, "include", "shardml")):
        if h not in PUBLIC_OWNER:
            bad.append(f"include/shardml/{h}: a public header this test does not know (add it to PUBLIC_OWNER)")

    # shardml's option names, from the option tables of src/cli.
    options = {"--help", "--list-options", "--version"}
    for f in files:
        if f.startswith("src/cli/"):
            options |= {"--" + n for n in re.findall(r'\{"([a-z0-9-]+)", OPT_', open(os.path.join(repo, f)).read())}
    if len(options) < 20:
        bad.append(f"found only {len(options)} option names in src/cli's option tables (has their form changed?)")

    graph, why = {}, {}
    for f in files:
        text = open(os.path.join(repo, f), encoding="utf-8").read()
        if f.startswith("include/"):
            me = PUBLIC_OWNER.get(os.path.basename(f))
            for inc in INCLUDE.findall(text):
                if not inc.startswith("shardml/"):
                    bad.append(f"{f}: a public header includes the internal \"{inc}\"")
        else:
            me = f.split("/")[1]
        for inc in INCLUDE.findall(text):
            other = header_folder(inc, f)
            if other == "?":
                bad.append(f"{f}: includes unknown public header {inc}")
            elif me and other and other != me:
                graph.setdefault(me, set()).add(other)
                why.setdefault((me, other), f"{f} includes \"{inc}\"")
        # 3. option names in the library's string literals
        if f.startswith("src/") and not f.startswith("src/cli/") or f.startswith("include/"):
            code = COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)
            for lit in STRING.finditer(code):
                for opt in (o for o in OPTION.findall(lit.group(0)) if o in options):
                    line = code.count("\n", 0, lit.start()) + 1
                    bad.append(f"{f}:{line}: option name {opt} in library code (flags belong to src/cli)")
            for com in COMMENT.finditer(text):
                named = [o for o in OPTION.findall(com.group(0)) if o in options]
                if named and "(CLI)" not in com.group(0):
                    line = text.count("\n", 0, com.start()) + 1
                    bad.append(f"{f}:{line}: a comment names option {named[0]} "
                               f"without marking it as CLI behaviour \"(CLI)\"")
    for folder, deps in graph.items():
        if "cli" in deps:
            bad.append(f"src/{folder} depends on src/cli ({why[(folder, 'cli')]})")
    cycle = find_cycle(graph)
    if cycle:
        edges = "; ".join(why[(a, b)] for a, b in zip(cycle, cycle[1:]))
        bad.append(f"folders depend on each other in a cycle {' -> '.join(cycle)}: {edges}")
    for b in bad:
        print("FAIL:", b)
    if not bad:
        order = []
        done = set()

        def place(n):
            if n in done:
                return
            done.add(n)
            for m in sorted(graph.get(n, ())):
                place(m)
            order.append(n)

        for n in sorted(graph):
            place(n)
        print("ok: folders depend without a cycle, bottom first:", " < ".join(order))
        print("ok: public headers include only public headers; no option names in library code")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
