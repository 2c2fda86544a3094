"""A raw-TCP peer for pong_server.rco that sends 100,000 pings without
reading, so the server's pongs pile up in the sockets (and, where the
kernel's buffers are small enough, back up into tungstenite, which then
keeps only the latest). Then the peer only reads, sending nothing: the
pong to its last ping must still arrive without a further frame from the
peer (output the server's socket refused keeps write interest). Then a
text round trip and a close.

Usage: python3 pong_flood.py PORT     (every wait is bounded)
"""

import os
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from peer import WAIT, frame, handshake, out  # noqa: E402

PINGS = 100_000


def read_frame(s, buf):
    """One server frame (unmasked) from socket `s`, `buf` holding bytes read
    ahead: (opcode, payload, rest)."""
    def need(n):
        nonlocal buf
        while len(buf) < n:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("server closed")
            buf += chunk
    need(2)
    opcode, n = buf[0] & 0x0F, buf[1] & 0x7F
    at = 2
    if n == 126:
        need(4)
        n, at = struct.unpack("!H", buf[2:4])[0], 4
    elif n == 127:
        need(10)
        n, at = struct.unpack("!Q", buf[2:10])[0], 10
    need(at + n)
    return opcode, buf[at:at + n], buf[at + n:]


def main():
    s = socket.socket()
    # A small receive window: the server's pongs back up into its socket.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(WAIT)
    s.connect(("127.0.0.1", int(sys.argv[1])))
    out("handshake", handshake(s, "/pongs"))
    # Every ping alike but the last, whose pong the peer waits for.
    s.sendall(frame(0x9, b"." * 125) * (PINGS - 1))
    last = b"last" + b"." * 121
    s.sendall(frame(0x9, last))
    buf, pongs, got_last = b"", 0, False
    while not got_last:
        opcode, payload, buf = read_frame(s, buf)
        if opcode == 0xA:
            pongs += 1
            got_last = payload == last
    out("last pong received", got_last, "pongs at most pings", 0 < pongs <= PINGS)
    s.sendall(frame(0x1, b"after the flood"))
    opcode, payload, buf = read_frame(s, buf)
    while opcode == 0xA:
        opcode, payload, buf = read_frame(s, buf)
    out("echo", opcode, payload.decode())
    s.sendall(frame(0x8, struct.pack("!H", 1000)))
    s.close()


main()
