# Collections and strings. n = first argument, default 1,000,000.
# Push n integers onto a list, sum them (the rco version: each), double them
# (transform: a list comprehension), keep the multiples of 3 (select: a list
# comprehension with a condition), put n/10 keys "k" + str(i) into a dict and
# read each back, split a string of n characters ("a,b," repeated n/4 times)
# on "," and join it again. Prints: sum, selected count, map sum, pieces,
# length of the joined string.
import sys


def main(n):
    # push 0 .. n-1
    numbers = []
    i = 0
    while i < n:
        numbers.append(i)
        i = i + 1

    # sum (each)
    total = 0
    for v in numbers:
        total = total + v

    # transform by 2, select the multiples of 3
    doubled = [v * 2 for v in numbers]
    selected = [v for v in doubled if v % 3 == 0]

    # put n/10 keys into a dict, read each back
    keys_count = n // 10
    table = {}
    i = 0
    while i < keys_count:
        table["k" + str(i)] = i
        i = i + 1
    map_total = 0
    i = 0
    while i < keys_count:
        map_total = map_total + table["k" + str(i)]
        i = i + 1

    # split a string of n characters on "," and join it again
    text = "a,b," * (n // 4)
    pieces = text.split(",")
    joined = ",".join(pieces)

    print(total, len(selected), map_total, len(pieces), len(joined))


main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000000)
