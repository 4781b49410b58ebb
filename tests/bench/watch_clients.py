#!/usr/bin/env python3
"""Opens N watch requests over TLS and keeps them open until stdin closes.

Prints "open N" once every response head has arrived, so the caller can measure memory of the
processes in between. One asyncio process instead of N curl processes: 2,000 watches cost the
client a few MB, not GBs.
usage: watch_clients.py HOST PORT CA_FILE TOKEN PATH N
"""
import asyncio
import ssl
import sys


async def open_watch(host, port, ctx, token, path):
    reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Accept: application/json\r\n\r\n".encode())
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"watch refused: {status!r}")
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    return reader, writer


async def main():
    host, port, ca, token, path, n = sys.argv[1:7]
    ctx = ssl.create_default_context(cafile=ca)
    sem = asyncio.Semaphore(50)  # do not storm the handshakes

    async def one():
        async with sem:
            return await open_watch(host, int(port), ctx, token, path)

    conns = await asyncio.gather(*[one() for _ in range(int(n))])
    print(f"open {len(conns)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for _, w in conns:
        w.close()


asyncio.run(main())
