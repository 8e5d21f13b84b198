"""Idle web-chat streams and a burst of anonymous visitors, for benches/streams.sh.

  python3 benches/streams.py open BASE N     opens N widget sessions and their
                                             event streams, holds them, and prints
                                             how many are open every few seconds
  python3 benches/streams.py burst BASE N C [sessions|conversations] [RATE]
                                             starts N anonymous sessions, C at a time
                                             (at most RATE a second, if given); with
                                             `conversations` (the default) each also
                                             writes a first message

Plain asyncio sockets: nothing to install.
"""

import asyncio
import json
import sys
import time
from urllib.parse import urlparse


async def request(host, port, method, path, body=None, token=None):
    reader, writer = await asyncio.open_connection(host, port)
    payload = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    writer.write(head.encode() + b"\r\n" + payload)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    status = int(status_line.split()[1]) if status_line else 0
    _, _, content = rest.partition(b"\r\n\r\n")
    return status, content


async def session(host, port, unit, allow_refusal=False):
    status, content = await request(host, port, "POST", "/api/v1/webchat/sessions", {"unit": unit})
    if status == 429 and allow_refusal:
        return None
    if status != 201:
        raise RuntimeError(f"session: {status} {content[:200]!r}")
    return json.loads(content)["token"]


async def hold_stream(host, port, token, open_now):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET /api/v1/webchat/events?token={token} HTTP/1.1\r\nHost: {host}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"stream: {status!r}")
    open_now[0] += 1
    try:
        while await reader.read(4096):
            pass
    finally:
        open_now[0] -= 1
        writer.close()


async def open_streams(base, n, unit="admisiones"):
    url = urlparse(base)
    host, port = url.hostname, url.port
    async def patient_session():
        # The instance-wide session limit lets ~100 a second through.
        while (token := await session(host, port, unit, allow_refusal=True)) is None:
            await asyncio.sleep(0.2)
        return token

    tokens = []
    for start in range(0, n, 100):
        tokens += await asyncio.gather(*(patient_session() for _ in range(min(100, n - start))))
    open_now = [0]
    tasks = [asyncio.create_task(hold_stream(host, port, t, open_now)) for t in tokens]
    while True:
        await asyncio.sleep(3)
        failed = sum(1 for t in tasks if t.done() and t.exception() is not None)
        print(f"open streams: {open_now[0]} (failed {failed})", flush=True)


async def burst(base, n, concurrency, what="conversations", rate=None, unit="admisiones"):
    url = urlparse(base)
    host, port = url.hostname, url.port
    gate = asyncio.Semaphore(concurrency)
    statuses = {}
    began = time.monotonic()

    async def one(k):
        if rate:
            await asyncio.sleep(max(0.0, began + k / float(rate) - time.monotonic()))
        async with gate:
            token = await session(host, port, unit, allow_refusal=True)
            if token is None or what == "sessions":
                status = 429 if token is None else 201
                statuses[status] = statuses.get(status, 0) + 1
                return
            status, _ = await request(
                host, port, "POST", "/api/v1/webchat/messages", {"body": f"Hola, consulta {k}"}, token
            )
            statuses[status] = statuses.get(status, 0) + 1

    started = time.monotonic()
    await asyncio.gather(*(one(k) for k in range(n)))
    print(f"burst: {n} visitors in {time.monotonic() - started:.1f} s, answers {statuses}", flush=True)


if __name__ == "__main__":
    what, base = sys.argv[1], sys.argv[2]
    if what == "open":
        asyncio.run(open_streams(base, int(sys.argv[3])))
    else:
        what = sys.argv[5] if len(sys.argv) > 5 else "conversations"
        rate = float(sys.argv[6]) if len(sys.argv) > 6 else None
        asyncio.run(burst(base, int(sys.argv[3]), int(sys.argv[4]), what, rate))
