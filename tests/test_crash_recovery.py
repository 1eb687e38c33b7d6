"""Kill -9 the real server under load, restart it, retry what was unknown: every fen accounted.

Users in both units pay a merchant and transfer money across units over real HTTP from several
threads; the server process is killed with SIGKILL in the middle. A request whose answer was lost
is retried after the restart with the same request id (as a client must). In the end the ledger
sums to zero, nothing is left in transit, and every balance equals what the answered requests
say: each request took effect exactly once or not at all.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from qianbao.bootstrap import open_platform
from qianbao.members import service as members
from qianbao.payments import service as payments
from qianbao.platform.clock import clock
from tests.conftest import assert_ledger_clean, make_platform
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, new_user
from tests.http_server import free_port

USERS_PER_UNIT = 3
START_FEN = 1_000_000
KILL_AFTER_REQUESTS = 200


@dataclass
class Request:
    path: str
    body: dict[str, object]
    user: int
    answer: int | None = None  # HTTP status once known
    fee_fen: int = 0


@dataclass
class Client:
    index: int
    user_id: str
    token: str
    sent: list[Request] = field(default_factory=list)


def _server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "qianbao.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code < 500:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


def _env(p, data_dir: Path) -> dict[str, str]:
    s = p.settings
    env = dict(os.environ)
    env |= {
        "QIANBAO_DATA_DIR": str(data_dir),
        "QIANBAO_PASSWORD_TIME_COST": "1",
        "QIANBAO_PASSWORD_MEMORY_KIB": "1024",
        "QIANBAO_RELAY_INTERVAL_MS": "10",
        "QIANBAO_MESSAGE_CHECKBACK_AFTER_S": "1",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"),
    }
    if s.unit_urls:
        env |= {"QIANBAO_GLOBAL_URL": s.global_url, "QIANBAO_UNIT_URLS": ",".join(s.unit_urls)}
    return env


def _next_request(
    rng: random.Random, me: Client, clients: list[Client], merchant_id: str
) -> Request:
    n = len(me.sent)
    amount = rng.randint(1, 5_000)
    if rng.random() < 0.5:
        body = {"merchant_id": merchant_id, "amount_fen": amount, "request_id": f"p{me.index}-{n}"}
        path = "/api/v1/payments"
    else:
        other = rng.choice([c for c in clients if c is not me])
        body = {"to_user_id": other.user_id, "amount_fen": amount, "request_id": f"t{me.index}-{n}"}
        path = "/api/v1/transfers"
    return Request(path, {**body, "pay_password": PAY_PASSWORD}, me.index)


def _send(base: str, me: Client, req: Request) -> None:
    headers = {"Authorization": f"Bearer {me.token}"}
    try:
        r = httpx.post(base + req.path, json=req.body, headers=headers, timeout=10)
    except httpx.HTTPError:
        return  # the answer was lost: unknown until retried
    assert r.status_code < 500 or r.status_code == 503, r.text
    req.answer = r.status_code if r.status_code != 503 else None
    if r.status_code == 200 and req.path.endswith("/payments"):
        req.fee_fen = r.json()["fee_fen"]


def _load(base: str, me: Client, clients: list[Client], merchant_id: str, stop: threading.Event):
    rng = random.Random(me.index)
    while not stop.is_set():
        req = _next_request(rng, me, clients, merchant_id)
        me.sent.append(req)
        _send(base, me, req)
        if req.answer is None:
            return  # the server is gone


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_kill_9_under_load_loses_and_doubles_nothing(engine, tmp_path):
    p = make_platform(engine, tmp_path)
    merchant, _ = members.create_merchant(p, "Crash Store")
    clients = []
    for i in range(2 * USERS_PER_UNIT):
        user_id = new_user(p, unit=i % 2, balance_fen=START_FEN)
        token, _ = members.login(p, members.get_user(p, user_id)["phone"], LOGIN_PASSWORD)
        clients.append(Client(i, user_id, token))
    env, settings = _env(p, tmp_path), p.settings
    p.close()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = _server(env, port)
    stop = threading.Event()
    threads = [
        threading.Thread(target=_load, args=(base, c, clients, merchant["id"], stop))
        for c in clients
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while sum(len(c.sent) for c in clients) < KILL_AFTER_REQUESTS and time.monotonic() < deadline:
        time.sleep(0.05)
    server.send_signal(signal.SIGKILL)
    server.wait()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    sent = [r for c in clients for r in c.sent]
    unknown = [r for r in sent if r.answer is None]
    assert len(sent) >= KILL_AFTER_REQUESTS and unknown, (
        "the kill must land in the middle of the load"
    )

    server = _server(env, port)
    try:
        for req in unknown:  # a client retries with the same request id
            _send(base, clients[req.user], req)
            assert req.answer is not None
        replayed = sent[:: max(1, len(sent) // 20)]
        for req in replayed:  # and a replay of an answered request changes nothing
            before = req.answer
            _send(base, clients[req.user], req)
            assert req.answer == before
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    clock.advance(timedelta(minutes=5))  # past the check-back age of any PREPARED message
    p = open_platform(settings)
    try:
        p.relay.check_back()
        assert_ledger_clean(p)
        expected = {c.user_id: START_FEN for c in clients}
        merchant_fen = 0
        for req in (r for r in sent if r.answer == 200):
            payer, amount = clients[req.user].user_id, int(req.body["amount_fen"])  # type: ignore[call-overload]
            expected[payer] -= amount
            if req.path.endswith("/payments"):
                merchant_fen += amount - req.fee_fen
            else:
                expected[str(req.body["to_user_id"])] += amount
        assert {u: payments.balance(p, u)["balance_fen"] for u in expected} == expected
        assert payments.merchant_balance(p, merchant["id"])["balance_fen"] == merchant_fen
    finally:
        p.close()
        clock.use_real_time()
