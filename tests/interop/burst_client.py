"""Client of the connection-burst test: opens CONNECTIONS connections to
127.0.0.1:PORT one after another (each connect waits for the handshake),
prints `slowest MS` (the longest connect, in milliseconds), then closes them
all. Usage: burst_client.py PORT CONNECTIONS"""
import socket
import sys
import time

port, connections = int(sys.argv[1]), int(sys.argv[2])
socks = []
slowest = 0.0
for _ in range(connections):
    started = time.monotonic()
    socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
    slowest = max(slowest, time.monotonic() - started)
print(f"slowest {slowest * 1000:.0f}")
for s in socks:
    s.close()
