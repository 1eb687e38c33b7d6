"""The door's body cap (api/body_cap.py) over real HTTP: a body over the cap, declared or
chunked, on the hot payment route and on a FastAPI route, gets 413 {code, message} and moves
no money."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from qianbao.api.body_cap import BODY_MAX_BYTES
from qianbao.members import service as members
from qianbao.payments import service as payments
from tests.factories import LOGIN_PASSWORD, new_user
from tests.http_server import serving

BIG = BODY_MAX_BYTES + 1


@pytest.fixture
def site(sqlite_platform: Any) -> Iterator[dict[str, Any]]:
    p = sqlite_platform
    payer = new_user(p, balance_fen=10_000, password_free_fen=10_000)
    token, _ = members.login(p, members.get_user(p, payer)["phone"], LOGIN_PASSWORD)
    merchant = members.create_merchant(p, "Cap Mart")[0]["id"]
    with serving(p) as base:
        port = int(base.rsplit(":", 1)[1])
        yield {"p": p, "payer": payer, "token": token, "merchant": merchant, "port": port}


def raw_request(port: int, head: str, chunks: list[bytes]) -> tuple[int, dict[str, Any]]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head.encode())
        try:
            for chunk in chunks:
                conn.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and stopped reading: what it said is still there
        got = b""
        while b"\r\n\r\n" not in got or not _complete(got):
            part = conn.recv(65536)
            if not part:
                break
            got += part
    status_line, _, rest = got.partition(b"\r\n")
    body = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), json.loads(body)


def _complete(got: bytes) -> bool:
    head, _, body = got.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def _head(path: str, token: str, extra: str) -> str:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\n{extra}\r\n"
    )


def _chunked(payload: bytes, size: int = 64 * 1024) -> list[bytes]:
    parts = [payload[i : i + size] for i in range(0, len(payload), size)]
    return [b"%x\r\n%s\r\n" % (len(part), part) for part in parts] + [b"0\r\n\r\n"]


def _padded_payment(site: dict[str, Any]) -> bytes:
    body = {"merchant_id": site["merchant"], "amount_fen": 100, "request_id": "cap-1"}
    body["memo"] = "x" * BIG
    return json.dumps(body).encode()


@pytest.mark.parametrize("path", ["/api/v1/payments", "/api/v1/transfers"])
def test_a_declared_body_over_the_cap_is_refused_before_it_is_read(site, path):
    head = _head(path, site["token"], f"Content-Length: {BIG}\r\n")
    status, body = raw_request(site["port"], head, [])
    assert status == 413 and body["code"] == "REQUEST_TOO_LARGE", body
    assert payments.balance(site["p"], site["payer"])["balance_fen"] == 10_000


@pytest.mark.parametrize("path", ["/api/v1/payments", "/api/v1/transfers"])
def test_a_chunked_body_over_the_cap_is_refused_as_it_passes_it(site, path):
    head = _head(path, site["token"], "Transfer-Encoding: chunked\r\n")
    status, body = raw_request(site["port"], head, _chunked(_padded_payment(site)))
    assert status == 413 and body["code"] == "REQUEST_TOO_LARGE", body
    assert payments.balance(site["p"], site["payer"])["balance_fen"] == 10_000


def test_a_chunked_body_under_the_cap_still_pays(site):
    payload = json.dumps({"merchant_id": site["merchant"], "amount_fen": 100, "request_id": "c2"})
    head = _head("/api/v1/payments", site["token"], "Transfer-Encoding: chunked\r\n")
    status, body = raw_request(site["port"], head, _chunked(payload.encode(), size=16))
    assert status == 200 and body["status"] == "SUCCEEDED", body
