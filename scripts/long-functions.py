#!/usr/bin/env python3
"""Lists functions and initialisers longer than a limit (default 80 lines) in Sources/.

Issue 27's rule: no function over 80 lines outside option parsing. Counts from the line of
`func`/`init` to its closing brace; a rough brace count, good enough for this code base
(no braces in string literals that span lines).
"""
import os
import re
import sys

LIMIT = int(sys.argv[1]) if len(sys.argv) > 1 else 80
# Longer on purpose, each with its reason (path, first words of the declaration).
ALLOWED: dict[tuple[str, str], str] = {}
DECLARATION = re.compile(r"^\s*(?:@[\w()]+\s+)*(?:(?:public|private|fileprivate|internal|package|static|class|mutating|"
                         r"consuming|borrowing|nonisolated(?:\(nonsending\))?|override|final|required|convenience)\s+)*(?:func|init)\b")

found = []
for root, _, files in os.walk("Sources"):
    for name in sorted(files):
        if not name.endswith(".swift"):
            continue
        path = os.path.join(root, name)
        lines = open(path, encoding="utf-8").read().split("\n")
        index = 0
        while index < len(lines):
            if not DECLARATION.match(lines[index]):
                index += 1
                continue
            depth, opened, end = 0, False, index
            while end < len(lines):
                for character in lines[end]:
                    if character == "{":
                        depth += 1
                        opened = True
                    elif character == "}":
                        depth -= 1
                if opened and depth == 0:
                    break
                if not opened and end > index + 8:
                    break  # a protocol requirement: no body
                end += 1
            length = end - index + 1
            allowed = any(path == where and lines[index].strip().startswith(start) for where, start in ALLOWED)
            if opened and length > LIMIT and not allowed:
                found.append((length, path, index + 1, lines[index].strip()))
            index += 1
for length, path, line, text in sorted(found, reverse=True):
    print(f"{length:4d} lines  {path}:{line}  {text[:80]}")
sys.exit(1 if found else 0)
