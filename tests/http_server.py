"""Serve the real app with uvicorn on a free 127.0.0.1 port in a thread (real HTTP in tests)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from qianbao.api.wire import OneWriteHttp
from qianbao.platform.runtime import Platform
from qianbao.server import build_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(p: Platform) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        build_app(p), host="127.0.0.1", port=port, log_level="warning", http=OneWriteHttp
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
