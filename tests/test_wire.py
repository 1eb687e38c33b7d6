"""One send per response (api/wire.py), on a real uvicorn server and real sockets."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from qianbao.api.wire import OneWriteHttp

WRITES: list[bytes] = []  # what reached the real transports, write by write


class Counted:
    """The real transport, with each write it is given kept in ``WRITES``."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def write(self, data: bytes) -> None:
        WRITES.append(bytes(data))
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class CountedOneWriteHttp(OneWriteHttp):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(Counted(transport))  # type: ignore[arg-type]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one,", b"two,", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b""})
        return
    body = b'{"ok":true}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    number = sock.getsockname()[1]
    sock.close()
    config = uvicorn.Config(app, port=number, log_level="warning", http=CountedOneWriteHttp)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield number
    server.should_exit = True
    thread.join(10)


def exchange(port: int, request: bytes, *, until: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(request)
        got = b""
        while until not in got:
            chunk = conn.recv(65536)
            if not chunk:
                break
            got += chunk
        return got


def test_a_response_leaves_in_one_write_and_keep_alive_still_works(port: int) -> None:
    WRITES.clear()
    request = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
    got = exchange(port, request * 2, until=b'{"ok":true}HTTP/1.1 200 OK')
    got += exchange(port, request, until=b'{"ok":true}')
    assert got.count(b"HTTP/1.1 200 OK") == 3
    answers = [w for w in WRITES if w.startswith(b"HTTP/1.1 200")]
    assert answers and all(w.endswith(b'{"ok":true}') for w in answers)  # head and body together


def test_head_close_and_streams_send_everything(port: int) -> None:
    head = exchange(port, b"HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n", until=b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"content-length: 11" in head
    closed = exchange(port, b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", until=b"}")
    assert closed.endswith(b'{"ok":true}')
    streamed = exchange(port, b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", until=b"0\r\n\r\n")
    assert b"one," in streamed and b"two," in streamed and b"three" in streamed
