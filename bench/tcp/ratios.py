#!/usr/bin/env python3
"""bench/tcp/ratios.py: the user CPU per round trip of one server against
another's in each repetition of a bench/tcp/run.sh (or bench/ws/run.sh)
throughput invocation: their runs in the same round of the rotation, a
minute apart at most. Reads the JSON lines run.sh appended to
bench/tcp/results/STAMP-throughput.jsonl; with several files, the median
is over all their repetitions.

With METRIC=rate, the ratio of round trips per second instead (and how
many repetitions reach AT_LEAST, if given).

Usage: bench/tcp/ratios.py FILE.jsonl...   (env: SERVER [rco], PEER [node],
       METRIC [user] or rate, AT_LEAST)
"""
import json
import os
import statistics
import sys


def main():
    server = os.environ.get("SERVER", "rco")
    peer = os.environ.get("PEER", "node")
    metric = os.environ.get("METRIC", "user")
    at_least = float(os.environ["AT_LEAST"]) if os.environ.get("AT_LEAST") else None
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
        field, unit = ("rt_per_s", "/s") if metric == "rate" else ("user_us_per_rt", " µs")
        mine, theirs = runs[server][field], runs[peer][field]
        ratios.append(mine / theirs)
        print(f"file {n + 1}, {conns} connections, rep {rep}: {server} {mine:.3f}{unit}, {peer} {theirs:.3f}{unit}, ratio {mine / theirs:.3f}")
    if ratios:
        print(f"median of {len(ratios)}: {statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f})")
        if at_least is not None:
            print(f"at least {at_least}: {sum(r >= at_least for r in ratios)} of {len(ratios)}")


if __name__ == "__main__":
    main()
