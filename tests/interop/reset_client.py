"""Connects to reset_server.rco three times and resets each connection
(SO_LINGER 0, then close), as described in that script.

Usage: python3 reset_client.py PORT
"""

import socket
import struct
import sys
import time


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def main():
    port = int(sys.argv[1])
    a = socket.create_connection(("127.0.0.1", port), timeout=10)
    a.sendall(b"hello\n")
    time.sleep(0.1)
    reset(a)
    time.sleep(0.2)
    b = socket.create_connection(("127.0.0.1", port), timeout=10)
    time.sleep(0.3)
    reset(b)
    time.sleep(0.2)
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    reset(c)
    print("ok")


if __name__ == "__main__":
    main()
