"""What the Python test peers of tests/ws_interop and tests/tls_interop
share: one bound for every wait, output that is never held back, and the
helpers more than one peer needs. A peer imports it with

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
    from peer import ...
"""

import asyncio
import base64
import os
import socket
import struct

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


def handshake(s, path):
    """A client WebSocket handshake for `path` on raw socket `s`; the
    server's status line."""
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    reply = b""
    while b"\r\n\r\n" not in reply:
        chunk = s.recv(4096)
        if not chunk:
            break
        reply += chunk
    return reply.split(b"\r\n", 1)[0].decode()


def frame(opcode, payload, fin=True, rsv=0, masked=True, length=None):
    """One client frame; `length` overrides the announced payload length."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    m = 0x80 if masked else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 1 << 16:
        head += bytes([m | 126]) + struct.pack("!H", n)
    else:
        head += bytes([m | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
