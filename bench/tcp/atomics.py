#!/usr/bin/env python3
"""bench/tcp/atomics.py BIN BASE FULL ROUND_TRIPS: the locked instructions
(atomic read-modify-writes: `lock`-prefixed ones and `xchg` with memory)
the server BIN executes per round trip, by site, from two callgrind dumps
of bench/tcp/ir.sh made with ATOMICS=1 (`--dump-instr=yes`): the server
with no rounds (BASE) and with ROUND_TRIPS (FULL). An atomic costs one
instruction in ir.sh's count but tens of cycles (it drains the store
buffer), so this count is the part of the CPU time that instruction counts
hide. x86_64 only (objdump's AT&T syntax). Each site is named by its
inlining chain (addr2line), innermost first."""
import collections
import os
import re
import subprocess
import sys


def locked_sites(binary):
    """Address -> (mnemonic) of every locked instruction of `binary`."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", binary], capture_output=True, text=True,
                         check=True).stdout
    sites = {}
    for line in out.splitlines():
        m = re.match(r"^\s+([0-9a-f]+):\s+(\S+)\s*(\S*)(.*)$", line)
        if not m:
            continue
        op, arg = m.group(2), m.group(3)
        if op == "lock":
            sites[int(m.group(1), 16)] = "lock " + arg
        elif op.startswith("xchg") and "(" in m.group(3) + m.group(4):
            sites[int(m.group(1), 16)] = op
    return sites


def self_counts(path, binary):
    """Executions per instruction address of `binary`'s own code in a
    callgrind dump with `positions: instr line` (call costs skipped)."""
    names, counts = {}, collections.Counter()
    ob = None
    addr = line = 0
    call_cost_next = False

    def name(kind, text):
        m = re.match(r"\((\d+)\)(?:\s+(.*))?", text)
        if m.group(2):
            names[(kind, m.group(1))] = m.group(2)
        return names.get((kind, m.group(1)))

    def position(token, current):
        if token == "*":
            return current
        if token[0] in "+-":
            return current + int(token, 0)
        return int(token, 0)

    with open(path) as f:
        for raw in f:
            s = raw.rstrip("\n")
            if not s or s[0] == "#":
                continue
            key = s.split("=", 1)[0]
            if key == "ob":
                ob = name("ob", s[3:])
            elif key == "cob":
                name("ob", s[4:])
            elif key in ("fn", "cfn"):
                name("fn", s[len(key) + 1:])
            elif key in ("fl", "fi", "fe", "cfi", "cfl"):
                name("fl", s[len(key) + 1:])
            elif key == "calls":
                call_cost_next = True
            elif s[0] in "0123456789+-*":
                parts = s.split()
                addr = position(parts[0], addr)
                if len(parts) > 1:
                    line = position(parts[1], line)
                if call_cost_next:
                    call_cost_next = False
                elif ob is not None and len(parts) > 2 and os.path.realpath(ob) == binary:
                    counts[addr] += int(parts[2])
    return counts


def chain(binary, addr):
    out = subprocess.run(["addr2line", "-i", "-f", "-C", "-e", binary, hex(addr)], capture_output=True,
                         text=True).stdout.split("\n")
    frames = []
    for fn, loc in zip(out[0::2], out[1::2]):
        frames.append(f"{fn.split('::')[-1][:28]}@{loc.split('/')[-1]}")
    return " <- ".join(frames[:6])


def main():
    binary, base, full, trips = os.path.realpath(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    sites = locked_sites(binary)
    before, after = self_counts(base, binary), self_counts(full, binary)
    per = {a: (after[a] - before[a]) / trips for a in sites if after[a] - before[a] > 0}
    print(f"locked instructions per round trip: {sum(per.values()):.1f}")
    for a, n in sorted(per.items(), key=lambda kv: -kv[1]):
        if n >= 0.1:
            print(f"  {n:5.2f}  {sites[a]:12s} {chain(binary, a)}")


if __name__ == "__main__":
    main()
