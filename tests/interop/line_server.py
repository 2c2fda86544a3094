"""A line-protocol TCP server that is not rco, for rco client scripts.

Usage: python3 line_server.py [MODE]

Binds 127.0.0.1 port 0, prints `port N` (flushed) and serves each
connection in a thread. It stops itself after 60 s in any case.

MODE `lines` (default), one request per line:
  PING k         -> `PONG k`
  BLOB n         -> n bytes of "0123456789" repeated, then a newline
  SINK n         -> waits 300 ms (so the client's write must wait for the
                    socket), reads exactly n more bytes, checks they are
                    "0123456789" repeated, answers `GOT n OK` or `GOT n BAD`
  SLOWSINK n ms  -> like SINK, but reads 16 KiB at a time, sleeping ms
                    between reads; answers `GOT n OK|BAD SECONDS`
  RUNS n         -> waits 300 ms, reads exactly n more bytes and answers
                    `RUNS k`, k the number of runs of equal bytes in them
                    (two whole writes of "a"s and "b"s: RUNS 2)
  QUIT           -> `BYE`, then closes
  HANGUP ms      -> waits ms, then closes without answering
  RESET ms       -> waits ms, then resets the connection (SO_LINGER 0)
MODE `reset`: resets every connection as soon as it is accepted, after
reading whatever line arrives first (up to 1 s).
"""

import os
import socket
import socketserver
import struct
import sys
import threading
import time

PATTERN = b"0123456789"


def pattern(n):
    return (PATTERN * (n // len(PATTERN) + 1))[:n]


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        sock.settimeout(30)
        if MODE == "reset":
            sock.settimeout(1)
            try:
                sock.recv(1024)
            except OSError:
                pass
            reset(sock)
            return
        buf = b""
        while True:
            while b"\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buf += chunk
            line, buf = buf.split(b"\n", 1)
            words = line.decode().split()
            cmd, rest = words[0], words[1:]
            if cmd == "PING":
                sock.sendall(b"PONG " + rest[0].encode() + b"\n")
            elif cmd == "BLOB":
                sock.sendall(pattern(int(rest[0])) + b"\n")
            elif cmd in ("SINK", "SLOWSINK"):
                n = int(rest[0])
                pause = int(rest[1]) / 1000 if cmd == "SLOWSINK" else 0
                step = 16384 if cmd == "SLOWSINK" else 65536
                started = time.monotonic()
                time.sleep(0.3)
                while len(buf) < n:
                    chunk = sock.recv(min(step, n - len(buf)))
                    if not chunk:
                        return
                    buf += chunk
                    time.sleep(pause)
                body, buf = buf[:n], buf[n:]
                verdict = "OK" if body == pattern(n) else "BAD"
                extra = f" {time.monotonic() - started:.1f}" if cmd == "SLOWSINK" else ""
                sock.sendall(f"GOT {n} {verdict}{extra}\n".encode())
            elif cmd == "RUNS":
                n = int(rest[0])
                time.sleep(0.3)
                while len(buf) < n:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                body, buf = buf[:n], buf[n:]
                runs = sum(1 for i in range(len(body)) if i == 0 or body[i] != body[i - 1])
                sock.sendall(f"RUNS {runs}\n".encode())
            elif cmd == "QUIT":
                sock.sendall(b"BYE\n")
                return
            elif cmd == "HANGUP":
                time.sleep(int(rest[0]) / 1000)
                return
            elif cmd == "RESET":
                time.sleep(int(rest[0]) / 1000)
                reset(sock)
                return
            else:
                sock.sendall(b"ERR unknown command\n")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


MODE = sys.argv[1] if len(sys.argv) > 1 else "lines"

if __name__ == "__main__":
    threading.Timer(60, lambda: os._exit(3)).start()
    with Server(("127.0.0.1", 0), Handler) as server:
        print(f"port {server.server_address[1]}", flush=True)
        server.serve_forever()
