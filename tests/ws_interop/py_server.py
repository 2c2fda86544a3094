"""A Python `websockets` server for rco_client.rco (one connection).

Usage: python3 py_server.py
Prints `port N` first (the test reads it), then one line per observation of
the single connection it serves, then exits. Every wait is bounded.
"""

import asyncio

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

WAIT = 5


def out(*parts):
    print(*parts, flush=True)


def seen_response(connection, request, response):
    out("server path", request.path)
    out("server origin header", request.headers.get("Origin"))
    out("server accept-key", response.headers["Sec-WebSocket-Accept"])


async def main():
    done = asyncio.get_running_loop().create_future()

    async def handler(ws):
        try:
            got = await asyncio.wait_for(ws.recv(), WAIT)
            out("server got", ascii(got))
            await ws.send("echo:" + got)
            await ws.send(b"raw\xfe")
            pong = await ws.ping(b"srv")
            try:
                await asyncio.wait_for(pong, WAIT)
                out("server pong received")
            except asyncio.TimeoutError:
                out("server no pong within", WAIT, "s")
            await ws.close(1000, "server-bye")
            out("server closed: code", ws.close_code, "reason", ascii(ws.close_reason))
        except ConnectionClosed as e:
            out("server connection closed early:", type(e).__name__, e)
        finally:
            if not done.done():
                done.set_result(None)

    async with serve(handler, "127.0.0.1", 0, ping_interval=None, close_timeout=WAIT,
                     process_response=seen_response) as server:
        out("port", server.sockets[0].getsockname()[1])
        await asyncio.wait_for(done, 30)


asyncio.run(main())
