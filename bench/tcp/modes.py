#!/usr/bin/env python3
"""bench/tcp/modes.py: the round trip rates of bench/tcp/run.sh's runs,
split by the kernel time the server spent per round trip. On a shared VM
that time is bimodal from one run to the next (the same binary), and a
repetition's rate ratio mostly says which mode each server met; this
prints each server's range of kernel time per round trip, then, per mode,
each server's runs and median rate, and SERVER / PEER of the medians.

Usage: bench/tcp/modes.py FILE.jsonl...   (env: SPLIT [6.0] µs of kernel
time per round trip between the modes, SERVER [rco], PEER [native],
CONNS [1000])
"""
import json
import os
import statistics
import sys


def main():
    split = float(os.environ.get("SPLIT", "6.0"))
    server, peer = os.environ.get("SERVER", "rco"), os.environ.get("PEER", "native")
    conns = int(os.environ.get("CONNS", "1000"))
    rates, kernel = {}, {}
    for path in sys.argv[1:]:
        with open(path) as f:
            for line in f:
                d = json.loads(line)
                r = d["result"]
                if r.get("conns") != conns or d["server"] not in (server, peer):
                    continue
                kernel.setdefault(d["server"], []).append(r["sys_us_per_rt"])
                mode = "fast" if r["sys_us_per_rt"] < split else "slow"
                rates.setdefault((mode, d["server"]), []).append(r["rt_per_s"])
    for name, times in kernel.items():
        print(f"{name}: kernel time {min(times):.2f}-{max(times):.2f} µs per round trip over {len(times)} runs")
    for mode in ("fast", "slow"):
        medians = {}
        for name in (server, peer):
            runs = rates.get((mode, name), [])
            if runs:
                medians[name] = statistics.median(runs)
                print(f"{mode} (sys < {split} µs/rt)" if mode == "fast" else f"{mode} (sys >= {split} µs/rt)",
                      f"{name}: {len(runs)} runs, median {medians[name]:.0f} rt/s", sorted(runs))
        if len(medians) == 2:
            print(f"{mode}: {server} / {peer} of the medians: {medians[server] / medians[peer]:.3f}")


if __name__ == "__main__":
    main()
