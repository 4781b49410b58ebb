#!/usr/bin/python3
"""Opens N watch requests and keeps them open until stdin closes.

Prints "open N" once every response head has arrived, so the caller can measure memory of the
processes in between. One asyncio process instead of N curl processes: 2,000 watches cost the
client a few MB, not GBs.
usage: watch_clients.py HOST PORT CA_FILE TOKEN PATH N [MODE]
  MODE http1 (default): one TLS connection per watch, as HTTP/1.1 clients do
       h2:    streams of as few h2 connections as the gateway's stream limit allows (1,000 each),
              as client-go does
       plain: one plain-HTTP connection per watch (kubectl proxy); CA_FILE and TOKEN are ignored
"""
import asyncio
import ssl
import sys

import h2.config
import h2.connection
import h2.events

STREAMS_PER_CONNECTION = 1000


async def open_watch(host, port, ctx, token, path):
    reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
    auth = f"Authorization: Bearer {token}\r\n" if ctx else ""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}Accept: application/json\r\n\r\n".encode())
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"watch refused: {status!r}")
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    return writer


async def open_h2_watches(host, port, ctx, token, path, n):
    """n watches as streams of one h2 connection; reads on (and opens windows) in the background."""
    ctx.set_alpn_protocols(["h2"])
    reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    answered = asyncio.Event()
    heads = set()
    for _ in range(n):
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [(":method", "GET"), (":path", path), (":scheme", "https"),
                                (":authority", f"{host}:{port}"), ("authorization", f"Bearer {token}"),
                                ("accept", "application/json")], end_stream=True)
    writer.write(conn.data_to_send())

    async def read():
        while True:
            data = await reader.read(65536)
            if not data:
                return
            for e in conn.receive_data(data):
                if isinstance(e, h2.events.ResponseReceived):
                    if dict(e.headers).get(":status") != "200":
                        raise RuntimeError(f"watch refused: {e.headers}")
                    heads.add(e.stream_id)
                    if len(heads) == n:
                        answered.set()
                elif isinstance(e, h2.events.DataReceived):
                    conn.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
            writer.write(conn.data_to_send())
    task = asyncio.ensure_future(read())
    await answered.wait()
    return writer, task


async def main():
    host, port, ca, token, path, n = sys.argv[1:7]
    mode = sys.argv[7] if len(sys.argv) > 7 else "http1"
    n, port = int(n), int(port)
    writers = []
    if mode == "h2":
        for at in range(0, n, STREAMS_PER_CONNECTION):
            writer, _ = await open_h2_watches(host, port, ssl.create_default_context(cafile=ca), token, path,
                                              min(STREAMS_PER_CONNECTION, n - at))
            writers.append(writer)
        count = n
    else:
        ctx = None if mode == "plain" else ssl.create_default_context(cafile=ca)
        sem = asyncio.Semaphore(50)  # do not storm the handshakes

        async def one():
            async with sem:
                return await open_watch(host, port, ctx, token, path)
        writers = await asyncio.gather(*[one() for _ in range(n)])
        count = len(writers)
    print(f"open {count}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for w in writers:
        w.close()


asyncio.run(main())
