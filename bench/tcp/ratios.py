#!/usr/bin/env python3
"""bench/tcp/ratios.py: the user CPU per round trip of one server against
another's in each repetition of a bench/tcp/run.sh (or bench/ws/run.sh)
throughput invocation: their runs in the same round of the rotation, a
minute apart at most. Reads the JSON lines run.sh appended to
bench/tcp/results/STAMP-throughput.jsonl; with several files, the median
is over all their repetitions.

Usage: bench/tcp/ratios.py FILE.jsonl...   (env: SERVER [rco], PEER [node])
"""
import json
import os
import statistics
import sys


def main():
    server = os.environ.get("SERVER", "rco")
    peer = os.environ.get("PEER", "node")
    reps = {}
    for n, path in enumerate(sys.argv[1:]):
        with open(path) as f:
            for line in f:
                row = json.loads(line)
                key = (n, row["result"].get("conns"), row["rep"])
                reps.setdefault(key, {})[row["server"]] = row["result"]
    ratios = []
    for (n, conns, rep), runs in sorted(reps.items()):
        if server not in runs or peer not in runs:
            continue
        mine, theirs = runs[server]["user_us_per_rt"], runs[peer]["user_us_per_rt"]
        ratios.append(mine / theirs)
        print(f"file {n + 1}, {conns} connections, rep {rep}: {server} {mine:.3f} µs, {peer} {theirs:.3f} µs, ratio {mine / theirs:.3f}")
    if ratios:
        print(f"median of {len(ratios)}: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
