"""(b) peer: N asyncio tasks each sleeping 10 s, print "ready", keep them
parked for HOLD ms, exit. N = first argument (default 100,000), HOLD =
second (default 3000)."""
import asyncio
import os
import sys


async def main(count, hold_ms):
    tasks = [asyncio.create_task(asyncio.sleep(10)) for _ in range(count)]
    await asyncio.sleep(0)  # let every task start and park on its timer
    print("ready", flush=True)
    await asyncio.sleep(hold_ms / 1000)
    os._exit(0)  # like rco's `exit`: do not cancel and unwind the sleepers


asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000,
                 int(sys.argv[2]) if len(sys.argv) > 2 else 3000))
