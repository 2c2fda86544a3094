"""Fixed work for bench/tcp/ir.sh: CONNS connections to 127.0.0.1:PORT, then
ROUNDS lockstep rounds (64 bytes sent on every connection, then every echo
read back), then close. Usage: ir_client.py PORT CONNS ROUNDS."""
import socket
import sys
import time

port, conns, rounds = (int(a) for a in sys.argv[1:4])
for _ in range(150):  # the server starts slowly under valgrind
    try:
        socket.create_connection(("127.0.0.1", port)).close()
        break
    except OSError:
        time.sleep(0.2)
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(conns)]
msg = b"x" * 64
for _ in range(rounds):
    for s in socks:
        s.sendall(msg)
    for s in socks:
        got = b""
        while len(got) < 64:
            chunk = s.recv(64 - len(got))
            if not chunk:
                sys.exit("connection closed by the server")
            got += chunk
for s in socks:
    s.close()
