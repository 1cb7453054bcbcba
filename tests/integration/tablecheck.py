#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""tablecheck.py HEADER_PREFIX COLUMNS < TEXT - check one table of xtsctl's
human output: the header row (the first line starting with HEADER_PREFIX)
names COLUMNS ("|"-separated, in order, each "NAME" left-aligned or ">NAME"
right-aligned), and every row under it, up to the first line that is not
a row (one that does not start with a blank or a character of the first
column's cells), has each cell aligned under its header: a left-aligned
cell starts where its header starts, a right-aligned one ends where its
header ends.  Prints the rows as tab-separated cells on stdout (for the
test to read), exit 1 with the first misaligned row on stderr."""
import re
import sys

prefix, spec = sys.argv[1], sys.argv[2].split("|")
cols = [(c[1:], True) if c.startswith(">") else (c, False) for c in spec]
lines = sys.stdin.read().split("\n")
try:
    h = next(i for i, l in enumerate(lines) if l.startswith(prefix))
except StopIteration:
    sys.exit("tablecheck: no header row starting with %r" % prefix)
head = lines[h]
# where each header name starts and ends (names may hold one blank)
pos, at = [], 0
for name, right in cols:
    s = head.find(name, at)
    if s < 0 or (at and head[s - 2:s] != "  "):
        sys.exit("tablecheck: header %r: no column %r where expected" % (head, name))
    pos.append((s, s + len(name)))
    at = s + len(name)
if head[at:].strip():
    sys.exit("tablecheck: header %r: more columns than %s" % (head, spec))
rows = 0
for l in lines[h + 1:]:
    if not l.strip() or not re.match(r"^( |[0-9a-z])", l) or l.startswith("shard "):
        break
    cells = []
    for (s, e), (name, right) in zip(pos, cols):
        # cells hold no double blank: a cell runs to (or from) one
        if right:
            # ends exactly under the header's end
            if e > len(l) or l[e - 1] == " " or (e < len(l) and l[e] != " "):
                if l[max(0, e - 2):e + 1].strip():
                    sys.exit("tablecheck: %r: column %s not right-aligned under %r" % (l, name, head))
                cells.append("")  # an empty cell
                continue
            b = l.rfind("  ", 0, e)
            cells.append(l[b + 2 if b >= 0 else 0:e].strip())
        else:
            # starts exactly under the header's start
            if l[s:s + 1] in ("", " ") or (s and l[s - 1] != " "):
                if l[max(0, s - 1):s + 1].strip():
                    sys.exit("tablecheck: %r: column %s not left-aligned under %r" % (l, name, head))
                cells.append("")
                continue
            m = l.find("  ", s)
            cells.append(l[s:m if m >= 0 else len(l)].strip())
    print("\t".join(cells))
    rows += 1
if not rows:
    sys.exit("tablecheck: no rows under %r" % head)
