"""Peers that stall or send garbage to hostile_server.rco (rco's TLS TCP
listener), then a good TLS client that must be served promptly.

Usage: python3 hostile_client.py PORT CA
In order: a TCP connection that stays silent; one that sends half a
ClientHello and stalls; one that sends plaintext HTTP (garbage to TLS) and
waits for the server to end it; then, 200 ms later, a good client (trusting
only the test CA, PEM file CA) that sends `alive` and must get `echo:alive`
back within 1 s of connecting. Last, it waits (at most 8 s) for the server
to end the two stalled connections, which it does when it exits. Prints
one line per observation; every wait is bounded.
"""

import socket
import ssl
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from peer import WAIT, out, server_reaction  # noqa: E402

PORT = int(sys.argv[1])
TRUSTED = ssl.create_default_context(cafile=sys.argv[2])


def dial():
    return socket.create_connection(("127.0.0.1", PORT), timeout=WAIT)


def client_hello():
    """The first flight of a real TLS client."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = TRUSTED.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def main():
    silent = dial()
    partial = dial()
    hello = client_hello()
    partial.sendall(hello[: len(hello) // 2])
    garbage = dial()
    garbage.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    out("garbage: server", server_reaction(garbage, WAIT))
    garbage.close()
    time.sleep(0.2)

    started = time.monotonic()
    with TRUSTED.wrap_socket(dial(), server_hostname="127.0.0.1") as good:
        good.sendall(b"alive\n")
        got = b""
        while not got.endswith(b"\n"):
            chunk = good.recv(4096)
            if not chunk:
                break
            got += chunk
        took = time.monotonic() - started
        out("good got", ascii(got.decode()))
        out("good served within 1 s", took < 1.0)
        good.settimeout(0)
        try:
            good.unwrap()  # close_notify, without waiting for rco's
        except OSError:  # SSLWantReadError: no close_notify back yet
            pass

    out("silent: server", server_reaction(silent, 8))
    out("partial: server", server_reaction(partial, 8))
    silent.close()
    partial.close()


main()
