"""A Python `websockets` server over TLS for wss_rco_client.rco.

Usage: python3 wss_py_server.py CERT KEY
Serves `wss://` with the certificate CERT and its key KEY (PEM files) on
127.0.0.1 port 0. Prints `port N` first (the test reads it), then one line
per observation of the two connections rco makes one after the other, then
exits. Every wait is bounded.
"""

import asyncio
import ssl
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

WAIT = 5


def out(*parts):
    print(*parts, flush=True)


async def main():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[1], sys.argv[2])
    # The server name rco sends: none for an IP address (RFC 6066), the
    # host for a name.
    names = []
    context.sni_callback = lambda sslobj, name, ctx: names.append(name)
    served = 0
    done = asyncio.get_running_loop().create_future()

    async def handler(ws):
        nonlocal served
        served += 1
        tag = "first" if served == 1 else "second"
        try:
            out(tag, "path", ws.request.path)
            out(tag, "sni", names.pop() if names else None)
            out(tag, "tls", ws.transport.get_extra_info("ssl_object").version() is not None)
            got = await asyncio.wait_for(ws.recv(), WAIT)
            out(tag, "got", ascii(got))
            await ws.send("echo:" + got)
            if tag == "first":
                # The other way round: Python speaks first, rco echoes.
                await ws.send("from-python")
                back = await asyncio.wait_for(ws.recv(), WAIT)
                out(tag, "got", ascii(back))
                await ws.close(1000, "server-bye")
                out(tag, "closed by server: code", ws.close_code, "reason", ascii(ws.close_reason))
            else:
                # rco closes this one.
                try:
                    extra = await asyncio.wait_for(ws.recv(), WAIT)
                    out(tag, "unexpected message", ascii(extra))
                except ConnectionClosed as e:
                    out(tag, "closed by client:", type(e).__name__,
                        "code", e.rcvd.code if e.rcvd is not None else None)
        except (ConnectionClosed, asyncio.TimeoutError) as e:
            out(tag, "ended early:", type(e).__name__, e)
        finally:
            if served == 2 and not done.done():
                done.set_result(None)

    async with serve(handler, "127.0.0.1", 0, ssl=context, ping_interval=None,
                     close_timeout=WAIT) as server:
        out("port", server.sockets[0].getsockname()[1])
        await asyncio.wait_for(done, 30)


asyncio.run(main())
