"""What the Python test peers of tests/ws_interop and tests/tls_interop
share: one bound for every wait, output that is never held back, and the
helpers more than one peer needs. A peer imports it with

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
    from peer import ...
"""

import asyncio
import socket

# Every wait of a peer is bounded by this many seconds.
WAIT = 5


def out(*parts):
    print(*parts, flush=True)


def ws_opts(**extra):
    """`websockets` connect options: no keepalive pings, bounded waits."""
    return dict(ping_interval=None, open_timeout=WAIT, close_timeout=WAIT, **extra)


async def recv(ws):
    return await asyncio.wait_for(ws.recv(), WAIT)


def server_reaction(s, limit=WAIT):
    """What the server does after a peer misbehaves: `ended` if it closes
    the connection (with or without a last word) within `limit` s, else
    `kept open`."""
    s.settimeout(limit)
    try:
        while s.recv(4096):
            pass
        return "ended"
    except socket.timeout:
        return "kept open"
    except ConnectionError:
        return "ended"
