#!/usr/bin/env python3
"""bench/tcp/kernel_calls.py: compares the kernel side of two servers'
profiles (bench/tcp/profile.sh, and NATIVE=1 bench/tcp/profile.sh): for
each kernel function whose name matches PATTERN, the share of each
profile's kernel samples whose stack holds it (so a caller's share
includes its callees': `__x64_sys_sendto` counts all of sendto's work).

Usage: bench/tcp/kernel_calls.py A.script B.script [PATTERN]
       (default pattern: the system calls and the descriptor lookups)
"""
import collections
import re
import sys

DEFAULT = r"^(__x64_sys_sendto|__x64_sys_recvfrom|__x64_sys_epoll_pwait|net_rx_action|fdget|fput)$"


def shares(path):
    """Kernel functions -> samples holding them, and the kernel sample count."""
    held, kernel = collections.Counter(), 0
    with open(path) as f:
        for sample in f.read().split("\n\n"):
            frames = [line.strip().split(None, 1) for line in sample.strip().split("\n")[1:]]
            frames = [f[1] for f in frames if len(f) == 2]
            if not frames or "kernel" not in frames[0]:
                continue
            kernel += 1
            names = {re.sub(r"\+0x[0-9a-f]+", "", f).split(" (")[0] for f in frames if "kernel" in f}
            held.update(names)
    return held, kernel


def main():
    a, b = sys.argv[1:3]
    pattern = re.compile(sys.argv[3] if len(sys.argv) > 3 else DEFAULT)
    (held_a, kernel_a), (held_b, kernel_b) = shares(a), shares(b)
    print(f"kernel samples: {a} {kernel_a}, {b} {kernel_b}")
    names = sorted((n for n in set(held_a) | set(held_b) if pattern.search(n)), key=lambda n: -held_a[n])
    for name in names:
        print(f"{100 * held_a[name] / kernel_a:6.2f}% {100 * held_b[name] / kernel_b:6.2f}%  {name}")


if __name__ == "__main__":
    main()
