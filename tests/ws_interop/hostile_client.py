"""Hostile raw-TCP peers for hostile_server.rco.

Usage: python3 hostile_client.py PORT CASE
Runs one hostile CASE (see CASES) on a first connection, then one well-behaved
`websockets` client on a second connection that sends "alive" and closes, to
show the server survived. Prints one line per observation; every wait is
bounded.
"""

import os
import socket
import struct
import sys
import time

from websockets.sync.client import connect
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from peer import WAIT, frame, handshake, out, server_reaction  # noqa: E402

PORT = int(sys.argv[1])
CASE = sys.argv[2]


def dial():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=WAIT)
    s.settimeout(WAIT)
    return s


def hostile_frame(data):
    s = dial()
    out("handshake", handshake(s, "/hostile"))
    s.sendall(data)
    out("server", server_reaction(s))
    s.close()


def garbage_handshake():
    s = dial()
    s.sendall(b"\x16\x03\x01\x00\xffNOT HTTP AT ALL\r\n\xff\xfe\r\n\r\n")
    out("server", server_reaction(s))
    s.close()


def eof_handshake():
    s = dial()
    s.close()
    out("closed without a request")


def stalled_handshake():
    s = dial()
    s.sendall(b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n")

    # The well-behaved client is served while this handshake stalls (DIALECT
    # 8); then the server's next ws_accept (ACCEPT_MS 1500) times out, the
    # server ends and closes this connection, well before 6 s.
    def after():
        out("server", server_reaction(s, 6))
        s.close()

    return after


def midframe(resume):
    s = dial()
    out("handshake", handshake(s, "/hostile"))
    payload = bytes(range(48, 48 + 50)) * 2  # 100 ASCII bytes
    whole = frame(0x1, payload)
    cut = len(whole) - 90  # header + mask + 10 payload bytes
    s.sendall(whole[:cut])
    time.sleep(1.3)  # the server reads with timeout_ms 500 meanwhile
    if resume:
        s.sendall(whole[cut:])
        s.sendall(frame(0x8, struct.pack("!H", 1000)))
        out("server", server_reaction(s))
    else:
        out("disconnecting mid-frame")
    s.close()


CASES = {
    "garbage_handshake": garbage_handshake,
    "eof_handshake": eof_handshake,
    "stalled_handshake": stalled_handshake,
    "unmasked_frame": lambda: hostile_frame(frame(0x1, b"hi", masked=False)),
    "reserved_opcode": lambda: hostile_frame(frame(0x3, b"op")),
    "reserved_control_opcode": lambda: hostile_frame(frame(0xB, b"op")),
    "rsv_bits": lambda: hostile_frame(frame(0x1, b"rsv", rsv=0x4)),
    "invalid_utf8": lambda: hostile_frame(frame(0x1, b"ok\xff\xfe")),
    "big_control": lambda: hostile_frame(frame(0x9, b"p" * 126)),
    "fragmented_control": lambda: hostile_frame(frame(0x9, b"p", fin=False)),
    "continuation_first": lambda: hostile_frame(frame(0x0, b"cont")),
    "huge_length": lambda: hostile_frame(frame(0x2, b"", length=(1 << 63) - 1)),
    "garbage_frames": lambda: hostile_frame(b"\xff" * 64),
    "midframe_disconnect": lambda: midframe(False),
    "midframe_resume": lambda: midframe(True),
}


def main():
    # A case may leave its connection open and return what to do with it
    # once the well-behaved client is done.
    after = CASES[CASE]()
    with connect(f"ws://127.0.0.1:{PORT}/alive", open_timeout=WAIT, close_timeout=WAIT,
                 ping_interval=None) as ws:
        ws.send("alive")
    out("alive client done")
    if after:
        after()


main()
