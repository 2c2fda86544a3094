"""asyncio TCP echo server for bench/tcp.

Usage: python3 echo.py PORT [protocol|streams]
  protocol (default): an asyncio.Protocol that writes back every chunk it
                      receives (the faster asyncio API);
  streams:            one coroutine per connection, reader.read / writer.write
                      / await writer.drain().
"""
import asyncio
import sys


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def handle(reader, writer):
    try:
        while True:
            data = await reader.read(4096)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()


async def main(port, mode):
    loop = asyncio.get_running_loop()
    if mode == "streams":
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=128)
    else:
        server = await loop.create_server(Echo, "127.0.0.1", port, backlog=128)
    print(f"listening on {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 7000,
                     sys.argv[2] if len(sys.argv) > 2 else "protocol"))
