"""(a) peer: create N trivial asyncio tasks, gather them, print the sum.
N = first argument, default 1,000,000."""
import asyncio
import sys


async def job(k):
    return k


async def main(count):
    tasks = [asyncio.create_task(job(k)) for k in range(count)]
    print(sum(await asyncio.gather(*tasks)))


asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
