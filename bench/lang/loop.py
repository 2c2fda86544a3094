# Integer loop: sum of i for i in [0, n). n = first argument, default 30,000,000.
import sys


def main(n):
    i = 0
    total = 0
    while i < n:
        total = total + i
        i = i + 1
    print(total)


main(int(sys.argv[1]) if len(sys.argv) > 1 else 30000000)
