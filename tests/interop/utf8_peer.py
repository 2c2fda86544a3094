"""A TCP server that is not rco and splits UTF-8 characters on purpose,
for utf8_client.rco (DIALECT 14: a tcp_read chunk never ends inside a
character).

Usage: python3 utf8_peer.py

Binds 127.0.0.1 port 0, prints `port N` (flushed) and serves each
connection in a thread; stops itself after 60 s. Each connection starts
with one command line:
  PAUSE   -> sends b"a\\xc3", waits 500 ms, sends b"\\xa9\\n", then waits
             for the client to close
  CLOSE   -> sends b"x\\xe2\\x82", then ends the stream (FIN)
  RESET   -> sends b"\\xc3", waits 300 ms, then resets (SO_LINGER 0)
  ECHO n  -> sends "a" + "é" * n in writes of 1,000 bytes (each one but
             the first splits a character), reads back as many bytes and
             answers `SAME` if they are byte-exact, else `DIFF`
"""

import socket
import socketserver
import struct
import sys
import threading
import time


def line(sock):
    buf = b""
    while not buf.endswith(b"\n"):
        got = sock.recv(1)
        if not got:
            break
        buf += got
    return buf.decode().strip()


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        sock.settimeout(30)
        words = line(sock).split()
        command = words[0] if words else ""
        if command == "PAUSE":
            sock.sendall(b"a\xc3")
            time.sleep(0.5)
            sock.sendall(b"\xa9\n")
            while sock.recv(1024):
                pass
        elif command == "CLOSE":
            sock.sendall(b"x\xe2\x82")
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(1024):
                pass
        elif command == "RESET":
            sock.sendall(b"\xc3")
            time.sleep(0.3)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        elif command == "ECHO":
            text = ("a" + "é" * int(words[1])).encode()
            for i in range(0, len(text), 1000):
                sock.sendall(text[i : i + 1000])
                time.sleep(0.001)
            back = b""
            while len(back) < len(text):
                got = sock.recv(65536)
                if not got:
                    break
                back += got
            sock.sendall(b"SAME\n" if back == text else b"DIFF\n")
            while sock.recv(1024):
                pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print("port", server.server_address[1], flush=True)
    threading.Timer(60, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
