#!/usr/bin/env python3
"""Comment density of the source tree, per file and per folder.

Counts non-blank lines. A line is a comment line when it is inside a C
comment (or starts with //) in .c/.h/.def files, or starts with # or lies
in a docstring in .py files. Prints "path code comment percent" rows, then
one row per folder. Usage: tools/comment_density.py [--files] [FOLDER...]
"""
import os
import sys

FOLDERS = ["lkm/core", "lkm/kernel", "lkm/user", "frontend", "ctjit", "ktc"]


def count_c(text: str) -> tuple[int, int]:
    code = com = 0
    inside = False
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        if inside:
            com += 1
            inside = "*/" not in s
            continue
        if s.startswith("/*"):
            com += 1
            inside = "*/" not in s
            continue
        if s.startswith("//"):
            com += 1
            continue
        code += 1
        if "/*" in s and "*/" not in s.split("/*", 1)[1]:
            inside = True
    return code, com


def count_py(text: str) -> tuple[int, int]:
    code = com = 0
    inside = False
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        if inside:
            com += 1
            inside = '"""' not in s
            continue
        if s.startswith('"""') or s.startswith('r"""'):
            com += 1
            inside = s.count('"""') == 1
            continue
        if s.startswith("#"):
            com += 1
            continue
        code += 1
    return code, com


def count(path: str) -> tuple[int, int]:
    with open(path, errors="replace") as f:
        text = f.read()
    return count_py(text) if path.endswith(".py") else count_c(text)


def main(argv: list[str]) -> int:
    files = "--files" in argv
    folders = [a for a in argv if not a.startswith("-")] or FOLDERS
    total = [0, 0]
    for d in folders:
        agg = [0, 0]
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            if not (os.path.isfile(p) and p.endswith((".c", ".h", ".def", ".py"))):
                continue
            c, m = count(p)
            agg[0] += c
            agg[1] += m
            if files:
                print(f"{p:40s} {c:6d} {m:6d} {100 * m / max(c + m, 1):5.1f}%")
        total[0] += agg[0]
        total[1] += agg[1]
        print(f"{d + '/':40s} {agg[0]:6d} {agg[1]:6d} "
              f"{100 * agg[1] / max(sum(agg), 1):5.1f}%")
    print(f"{'all':40s} {total[0]:6d} {total[1]:6d} "
          f"{100 * total[1] / max(sum(total), 1):5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
