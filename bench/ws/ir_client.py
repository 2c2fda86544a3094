"""Fixed work for `PROTO=ws bench/tcp/ir.sh`: CONNS WebSocket connections to
ws://127.0.0.1:PORT/, then ROUNDS lockstep rounds (a 64-byte text message
sent on every connection, then every echo read back), then close.
Usage: ir_client.py PORT CONNS ROUNDS. Needs the `websockets` package."""
import sys
import time
import warnings

from websockets.sync.client import connect

# Connections are closed by hand, in the counted order.
warnings.filterwarnings("ignore", category=DeprecationWarning)

port, conns, rounds = (int(a) for a in sys.argv[1:4])
uri = f"ws://127.0.0.1:{port}/"
for _ in range(150):  # the server starts slowly under valgrind
    try:
        connect(uri, open_timeout=60).close()
        break
    except OSError:
        time.sleep(0.2)
socks = [connect(uri, open_timeout=60, compression=None) for _ in range(conns)]
msg = "x" * 64
for _ in range(rounds):
    for s in socks:
        s.send(msg)
    for s in socks:
        if s.recv(timeout=60) != msg:
            sys.exit("wrong echo")
for s in socks:
    s.close()
