"""The Python `websockets` client against py_client_server.rco.

Usage: python3 py_client.py PORT
Makes four connections in order (A-D, see the .rco) and prints one line per
observation; tests/ws_interop.rs compares them. Every wait is bounded.
"""

import asyncio
import os
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from peer import WAIT, out, recv, ws_opts  # noqa: E402

PORT = int(sys.argv[1])
URI = f"ws://127.0.0.1:{PORT}/chat"


async def conn_a():
    async with connect(URI, **ws_opts()) as ws:
        await ws.send("hello")
        out("A got", ascii(await recv(ws)))
        await ws.send(b"bin\xffx")
        out("A got", ascii(await recv(ws)))
        pong = await ws.ping(b"pp")
        try:
            await asyncio.wait_for(pong, WAIT)
            out("A pong received")
        except asyncio.TimeoutError:
            out("A no pong within", WAIT, "s")
        await ws.send("after-ping")
        out("A got", ascii(await recv(ws)))
        await ws.send("")
        out("A got", ascii(await recv(ws)))
        await ws.send(["frag-", "ment", "ed"])
        out("A got", ascii(await recv(ws)))
        await ws.pong(b"unsolicited")
        await ws.close(1000, "py-bye")
        out("A closed: code", ws.close_code, "reason", ascii(ws.close_reason))


async def conn_b():
    async with connect(URI, **ws_opts()) as ws:
        await ws.send("close me")
        try:
            got = await recv(ws)
            out("B unexpected message", ascii(got))
        except ConnectionClosed as e:
            out("B ConnectionClosed:", type(e).__name__)
            out("B close frame received:", e.rcvd is not None,
                "code", e.rcvd.code if e.rcvd is not None else None)
        except asyncio.TimeoutError:
            out("B no close within", WAIT, "s")


async def conn_c():
    try:
        async with connect(URI, **ws_opts(origin="https://evil.example")) as ws:
            out("C unexpectedly connected")
            await ws.close()
    except InvalidStatus as e:
        out("C rejected: status", e.response.status_code)
        out("C body", ascii(e.response.body.decode("utf-8", "replace")))


async def conn_d():
    async with connect(URI, **ws_opts(origin="https://good.example", max_size=None)) as ws:
        await ws.send("hi-good")
        out("D got", ascii(await recv(ws)))
        await ws.send("x" * 100)
        await ws.send("after-big")
        out("D got", ascii(await recv(ws)))
        await ws.send("L" * (2 << 20))
        huge = await recv(ws)
        out("D got huge", len(huge), "all y", set(huge) == {"y"})
        await ws.close()
        out("D closed: code", ws.close_code)


async def main():
    for step in (conn_a, conn_b, conn_c, conn_d):
        await asyncio.wait_for(step(), 20)


asyncio.run(main())
