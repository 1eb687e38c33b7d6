"""Fixtures for the open-platform tests: the gateway served by uvicorn on 127.0.0.1, a sandbox
app, the example merchant client, and a real HTTP receiver for notifications."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from qianbao.openapi import apps
from qianbao.platform.runtime import Platform
from tests.trades.helpers import new_merchant

ROOT = Path(__file__).resolve().parents[2]


def load_example_client() -> Any:
    spec = importlib.util.spec_from_file_location(
        "merchant_client", ROOT / "examples" / "merchant_client.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Receiver:
    """A merchant's notify endpoint: answers from ``script`` (then ``success``), and applies each
    trade's payment once, keyed by ``out_trade_no`` + status, as a careful merchant does."""

    url: str = ""
    script: list[tuple[int, str]] = field(default_factory=list)
    received: list[dict[str, str]] = field(default_factory=list)
    applied: dict[tuple[str, str], int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, form: dict[str, str]) -> tuple[int, str]:
        with self.lock:
            self.received.append(form)
            if self.script:
                return self.script.pop(0)
            key = (form["out_trade_no"], form["trade_status"] + form.get("out_biz_no", ""))
            if key not in self.applied:  # duplicates are harmless
                self.applied[key] = len(self.received)
            return 200, "success"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("content-length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            status, body = state.answer(form)
            self.send_response(status)
            self.send_header("content-type", "text/plain")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/notify"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Gateway:
    p: Platform
    base_url: str
    merchant_id: str
    creds: dict[str, str]
    client: Any
    module: Any


@pytest.fixture
def gw(sqlite_platform: Platform, receiver: Receiver) -> Iterator[Gateway]:
    import time

    import uvicorn

    from qianbao.api.app import create_app
    from qianbao.api.gateway import router as gateway_router
    from tests.http_server import free_port

    p = sqlite_platform
    merchant = new_merchant(p)
    creds = apps.create_sandbox_app(p, merchant)
    app = create_app(p, extra_routers=[gateway_router])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    module = load_example_client()
    base = f"http://127.0.0.1:{port}"
    client = module.GatewayClient(
        base + "/gateway.do",
        creds["app_id"],
        creds["app_private_key"],
        creds["platform_public_key"],
        notify_url=receiver.url,
    )
    try:
        yield Gateway(p, base, merchant, creds, client, module)
    finally:
        client.http.close()
        server.should_exit = True
        thread.join(timeout=10)
