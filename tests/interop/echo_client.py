"""Drives echo_server.rco from a peer that is not rco (stdlib only).

Usage: python3 echo_client.py PORT WORKERS [HOST]

Opens WORKERS connections at once (plus one that closes without sending),
and on each, concurrently: request/response lines with non-ASCII text, a
line split over several writes, a line sent one byte at a time, a burst of
pipelined lines in one write, and (on connection 0) a 256 KiB line; then a
half-close: two lines and a partial tail, shutdown(SHUT_WR), and the echoes
of the two complete lines must arrive followed by end of stream (the server
saw EOF and closed). Every echo is compared byte for byte.

Prints `expect lines=L bytes=B partials=P1,P2,...` (what the server must
report) and `ok`, or a FAIL line and exit status 1.
"""

import socket
import sys
import threading
import time

TIMEOUT = 15.0
HOST = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.sent_bytes = 0
        self.sent_lines = 0

    def send(self, data):
        self.sock.sendall(data)
        self.sent_bytes += len(data)
        self.sent_lines += data.count(b"\n")

    def recv_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"EOF after {len(self.buf)} of {n} bytes")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_to_eof(self):
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                out, self.buf = self.buf, b""
                return out
            self.buf += chunk


def expect_equal(what, got, want):
    if got != want:
        shown_got = got if len(got) < 200 else got[:100] + b"..." + got[-100:]
        shown_want = want if len(want) < 200 else want[:100] + b"..." + want[-100:]
        raise AssertionError(f"{what}: got {shown_got!r} ({len(got)} bytes), want {shown_want!r} ({len(want)} bytes)")


def session(k, port, barrier, results):
    try:
        c = Conn(port)
        barrier.wait(timeout=TIMEOUT)
        # 1. request/response, UTF-8 text sent whole.
        for i in range(5):
            line = f"conn {k} message {i}: héllo wörld ✓ 🦀\n".encode()
            c.send(line)
            expect_equal(f"conn {k} echo {i}", c.recv_exact(len(line)), line)
        # 2. one line over three writes.
        pieces = [f"frag-{k}-".encode(), b"middle-part-", b"end\n"]
        for p in pieces:
            c.send(p)
            time.sleep(0.02)
        whole = b"".join(pieces)
        expect_equal(f"conn {k} fragmented", c.recv_exact(len(whole)), whole)
        # 3. one byte per write.
        line = f"byte-by-byte line of conn {k}\n".encode()
        for b in line:
            c.send(bytes([b]))
            time.sleep(0.002)
        expect_equal(f"conn {k} byte-by-byte", c.recv_exact(len(line)), line)
        # 4. a burst of pipelined lines in one write.
        burst = b"".join(f"burst {k} line {j:03d} {'x' * (j % 17)}\n".encode() for j in range(100))
        c.send(burst)
        expect_equal(f"conn {k} burst", c.recv_exact(len(burst)), burst)
        # 5. one big line (several reads on the server, one big write back).
        if k == 0:
            big = (b"0123456789abcdef" * (256 * 1024 // 16))[:-1] + b"\n"
            sender = threading.Thread(target=c.send, args=(big,))
            sender.start()
            got = c.recv_exact(len(big))
            sender.join(TIMEOUT)
            expect_equal("conn 0 big line", got, big)
        # 6. half-close: complete lines echo, then the server's EOF.
        tail = f"tail-{k}".encode()
        c.send(b"last-1\nlast-2\n" + tail)
        c.sock.shutdown(socket.SHUT_WR)
        expect_equal(f"conn {k} after half-close", c.recv_to_eof(), b"last-1\nlast-2\n")
        c.sock.close()
        results[k] = (c.sent_lines, c.sent_bytes, tail.decode())
    except Exception as e:  # reported by the main thread
        results[k] = e


def main():
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    barrier = threading.Barrier(workers)
    results = [None] * workers
    threads = [threading.Thread(target=session, args=(k, port, barrier, results)) for k in range(workers)]
    for t in threads:
        t.start()
    # A connection that ends without sending anything.
    quiet = socket.create_connection((HOST, port), timeout=TIMEOUT)
    quiet.close()
    for t in threads:
        t.join(4 * TIMEOUT)
    failures = [r for r in results if not isinstance(r, tuple)]
    if failures:
        for f in failures:
            print(f"FAIL {f!r}")
        sys.exit(1)
    lines = sum(r[0] for r in results)
    sent = sum(r[1] for r in results)
    partials = ",".join(sorted(r[2] for r in results))
    print(f"expect lines={lines} bytes={sent} partials={partials}")
    print("ok")


if __name__ == "__main__":
    main()
