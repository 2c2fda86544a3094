"""The Python `websockets` client over TLS against wss_rco_server.rco.

Usage: python3 wss_py_client.py PORT CA
Trusts only the test CA (PEM file CA). Makes three connections in order
(A-C, see the .rco) and prints one line per observation;
tests/tls_interop.rs compares them. Every wait is bounded.
"""

import asyncio
import ssl
import os
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from peer import WAIT, out, recv, ws_opts  # noqa: E402

PORT = int(sys.argv[1])
CONTEXT = ssl.create_default_context(cafile=sys.argv[2])


async def conn_a():
    async with connect(f"wss://127.0.0.1:{PORT}/chat", ssl=CONTEXT, **ws_opts(max_size=None)) as ws:
        out("A tls", ws.transport.get_extra_info("ssl_object").version())
        await ws.send("hello")
        out("A got", ascii(await recv(ws)))
        got = await recv(ws)
        out("A got", ascii(got))
        await ws.send("py:" + got)
        await ws.send("z" * 100000)
        big = await recv(ws)
        out("A got big", len(big), "all w", set(big) == {"w"})
        await ws.close(1000, "py-bye")
        out("A closed: code", ws.close_code, "reason", ascii(ws.close_reason))


async def conn_b():
    # Plain ws:// to the TLS listener: refused, and promptly.
    try:
        async with connect(f"ws://127.0.0.1:{PORT}/chat", **ws_opts()) as ws:
            out("B unexpectedly connected")
            await ws.close()
    except (asyncio.TimeoutError, TimeoutError):
        out("B plaintext client: no answer within", WAIT, "s")
    except Exception:  # InvalidMessage, ConnectionClosed, EOFError, reset...
        out("B plaintext client refused")


async def conn_c():
    async with connect(f"wss://localhost:{PORT}/chat", ssl=CONTEXT, **ws_opts()) as ws:
        await ws.send("hi-localhost")
        out("C got", ascii(await recv(ws)))
        try:
            got = await recv(ws)
            out("C unexpected message", ascii(got))
        except ConnectionClosed as e:
            out("C closed by server:", type(e).__name__, "code", e.rcvd.code if e.rcvd is not None else None)
        except asyncio.TimeoutError:
            out("C no close within", WAIT, "s")


async def main():
    for step in (conn_a, conn_b, conn_c):
        await asyncio.wait_for(step(), 20)


asyncio.run(main())
