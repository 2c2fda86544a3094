#!/usr/bin/env python3
"""bench/tcp/abstat.py: the summary of a bench/tcp/ab.sh run: per binary,
the medians of its round trips per second, user and sys µs per round trip
(and their sum), and in how many of the alternating pairs the second
binary spent less user CPU than the first.

Usage: bench/tcp/ab.sh A B >OUT;  bench/tcp/abstat.py OUT A B
"""
import statistics
import sys


def main():
    out, first, second = sys.argv[1:4]
    runs = {}
    with open(out) as f:
        for line in f:
            fields = line.split()
            if len(fields) == 4 and fields[0] in (first, second):
                runs.setdefault(fields[0], []).append(tuple(float(x) for x in fields[1:]))
    for binary in (first, second):
        rows = runs[binary]
        rate, user, sys_ = (statistics.median(r[i] for r in rows) for i in range(3))
        total = statistics.median(r[1] + r[2] for r in rows)
        print(f"{binary}: rt/s {rate:.0f}, user {user:.3f} µs, sys {sys_:.3f} µs, user+sys {total:.3f} µs ({len(rows)} runs)")
    pairs = list(zip(runs[first], runs[second]))
    lower = sum(b[1] < a[1] for a, b in pairs)
    print(f"pairs where {second} spent less user CPU: {lower} of {len(pairs)}")


if __name__ == "__main__":
    main()
