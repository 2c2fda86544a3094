#!/usr/bin/env python3
"""bench/tcp/ir_split.py BASE FULL ROUND_TRIPS: where a round trip's
instructions go, from two callgrind dumps of bench/tcp/ir.sh (SPLIT=1):
the server with no rounds (BASE) and with ROUND_TRIPS (FULL). Prints, per
round trip, the inclusive instructions of the path's entry points (a
function and everything it calls; the rows overlap where one calls
another) and the exclusive instructions per crate or library."""
import collections
import re
import subprocess
import sys

# Entry points of the round trip, in the order it runs them.
ENTRIES = [
    ("events: the reactor's poll (reads, replies delivered)", "rco_reactor::Net::poll"),
    ("  delivering replies: mailbox and wake", "rco_reactor::Net::finish"),
    ("the interpreter's run (words and their requests included)", "rco_lang::vm::Vm::execute"),
    ("  built-in words (socket requests included)", "rco_lang::vm::Vm::run_word"),
    ("    socket requests in the reactor", "rco::sockets::perform"),
    ("a read result made", "rco::runtime::socket_answer"),
    ("values dropped (a read result freed, mostly)", "core::ptr::drop_in_place<rco_lang::value::Value>"),
    ("allocations", "mi_malloc"),
    ("frees", "mi_free"),
]


def annotate(path, inclusive):
    out = subprocess.run(
        ["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}", path],
        capture_output=True, text=True, check=True).stdout
    rows = collections.Counter()
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s*\(\s*[\d.]+%\)\s+(\S+?):(.*?)( \[.*\])?$", line)
        if m and "PROGRAM TOTALS" not in line:
            rows[(m.group(2), m.group(3))] += int(m.group(1).replace(",", ""))
    return rows


def by_function(rows):
    # Inclusive counts of one function appear once per file its lines come
    # from (inlined code): the largest is the function's own.
    best = collections.Counter()
    for (_, fn), n in rows.items():
        best[fn] = max(best[fn], n)
    return best


def area(file, fn):
    for crate, name in (("lang/", "lang (interpreter, words, values)"), ("reactor/", "reactor"),
                        ("actors/", "actors (scheduler, mailbox)"), ("src/", "glue (runtime, sockets)")):
        if file.startswith(crate) or f"/work/main/{crate}" in file:
            return name
    if "mimalloc" in file:
        return "mimalloc"
    if fn.startswith("rco_lang"):
        return "lang (interpreter, words, values)"
    if fn.startswith("rco_reactor"):
        return "reactor"
    if fn.startswith("rco_actors"):
        return "actors (scheduler, mailbox)"
    if fn.startswith("rco::") or "rco::" in fn:
        return "glue (runtime, sockets)"
    return "other (libc, and std code inlined where callgrind files it under std: the worker loop)"


def main():
    base_path, full_path, trips = sys.argv[1], sys.argv[2], int(sys.argv[3])
    base, full = by_function(annotate(base_path, True)), by_function(annotate(full_path, True))
    print("inclusive, per round trip:")
    for label, fn in ENTRIES:
        n = max((v - base.get(k, 0) for k, v in full.items() if k == fn or k.startswith(fn + " ")), default=0)
        print(f"  {n / trips:8.0f}  {label} ({fn})")
    areas = collections.Counter()
    for (file, fn), n in annotate(full_path, False).items():
        areas[area(file, fn)] += n
    for (file, fn), n in annotate(base_path, False).items():
        areas[area(file, fn)] -= n
    print("exclusive, per round trip, by crate:")
    for name, n in areas.most_common():
        print(f"  {n / trips:8.0f}  {name}")


main()
