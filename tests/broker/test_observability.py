"""/healthz, /readyz that tells the truth (503 when a database or the broker is unreachable),
Prometheus histograms per route and unit, and JSON logs carrying request id, caller, unit and
command."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient

from qianbao.api.app import create_app
from qianbao.bootstrap import open_platform
from qianbao.members import service as members
from qianbao.payments import service as payments
from qianbao.platform.broker import NatsServer
from qianbao.platform.clock import clock
from qianbao.platform.logs import configure_logging
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import wait_until
from tests.conftest import PG_URL, fast_settings, make_platform
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, new_user


def _failing(answer: Any) -> list[str]:
    return [c["name"] for c in answer.json()["checks"] if not c["ok"]]


def _login(client: TestClient, p: Platform, user_id: str) -> dict[str, str]:
    phone = members.get_user(p, user_id)["phone"]
    t = client.post("/api/v1/sessions", json={"phone": phone, "password": LOGIN_PASSWORD})
    return {"Authorization": f"Bearer {t.json()['token']}"}


def test_readyz_is_503_while_a_unit_database_is_unreachable(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    client = TestClient(create_app(p))
    assert client.get("/healthz").status_code == 200
    ok = client.get("/readyz")
    assert ok.status_code == 200, ok.json()
    assert {c["name"] for c in ok.json()["checks"]} >= {"db:global", "db:unit0", "db:unit1"}
    path = p.units[1].path
    moved = path.with_suffix(".away")
    path.rename(moved)  # the unit's storage is gone (unmounted disk, deleted file)
    try:
        down = client.get("/readyz")
        assert down.status_code == 503
        assert down.headers["retry-after"] == "5"
        assert _failing(down) == ["db:unit1"]
        assert client.get("/healthz").status_code == 200  # alive, not ready
    finally:
        moved.rename(path)
    assert client.get("/readyz").status_code == 200


def test_readyz_is_503_while_the_broker_is_unreachable(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    p = open_platform(fast_settings(tmp_path, relay_transport="nats", nats_url=nats_server.url))
    try:
        client = TestClient(create_app(p))
        assert wait_until(lambda: client.get("/readyz").status_code == 200, timeout_s=10)
        nats_server.kill()
        assert wait_until(lambda: client.get("/readyz").status_code == 503, timeout_s=10)
        assert _failing(client.get("/readyz")) == ["broker"]
        nats_server.start()
        assert wait_until(lambda: client.get("/readyz").status_code == 200, timeout_s=15)
    finally:
        clock.use_real_time()
        p.close()


def test_readyz_is_503_when_a_writer_is_not_running(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    client = TestClient(create_app(p))
    p.writers[0].stop()
    assert _failing(client.get("/readyz")) == ["writer:unit0"]


def test_latency_histograms_per_route_and_unit(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    client = TestClient(create_app(p))
    user = new_user(p, unit=1, balance_fen=10_00)
    headers = _login(client, p, user)
    series = (
        'qianbao_http_request_duration_seconds_count{method="GET",route="/api/v1/me/balance",'
        'status="2xx",unit="1"} '
    )
    before = _sample(client.get("/metrics").text, series)  # the registry is the process's
    assert client.get("/api/v1/me/balance", headers=headers).status_code == 200
    payments.transfer(p, user, new_user(p, unit=0), 1_00, "lag-1", PAY_PASSWORD)  # across
    assert wait_until(lambda: p.relay.delivered >= 1)
    text = client.get("/metrics").text
    assert _sample(text, series) == before + 1
    assert 'qianbao_writer_batch_size_count{unit="1"}' in text
    assert 'qianbao_writer_batch_seconds_bucket{le="0.005",unit="0"}' in text
    assert 'qianbao_writer_queue_depth{unit="0"}' in text
    assert 'qianbao_relay_lag_seconds_count{transport="memory"}' in text
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    assert 'route="unmatched",status="4xx"' in client.get("/metrics").text


def _sample(text: str, series: str) -> float:
    """The value of one exposition line starting with ``series`` (0 when absent)."""
    line = next((x for x in text.splitlines() if x.startswith(series)), None)
    return 0.0 if line is None else float(line[len(series) :])


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging(logging.INFO, stream)
    try:
        yield stream
    finally:
        root.handlers, level = saved
        root.setLevel(level)
        structlog.reset_defaults()


def test_json_logs_carry_request_id_caller_unit_and_command(
    tmp_path: Path, json_logs: io.StringIO
) -> None:
    p = open_platform(fast_settings(tmp_path, log_requests=True))
    try:
        client = TestClient(create_app(p))
        payer, payee = new_user(p, unit=0, balance_fen=10_00), new_user(p, unit=1)
        headers = {**_login(client, p, payer), "X-Request-Id": "req-42.a"}
        body = {"to_user_id": payee, "amount_fen": 1_00, "request_id": "t-1"}
        answer = client.post(
            "/api/v1/transfers", json={**body, "pay_password": PAY_PASSWORD}, headers=headers
        )
        assert answer.status_code == 200, answer.json()
        assert answer.headers["x-request-id"] == "req-42.a"
        bad = client.get("/api/v1/me/balance", headers={"X-Request-Id": "bad id!"})
        assert bad.status_code == 401 and len(bad.headers["x-request-id"]) == 32  # a fresh one
    finally:
        p.close()
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines() if line.strip()]
    [access] = [x for x in lines if x.get("request_id") == "req-42.a" and x["event"] == "request"]
    assert access["caller"] == payer and access["unit"] == 0
    assert access["command"] == "Transfer" and access["route"] == "/api/v1/transfers"
    assert access["status"] == 200 and access["level"] == "info" and "timestamp" in access


def test_readyz_is_503_while_a_postgres_unit_refuses_connections(tmp_path: Path) -> None:
    """Pooled connections may still work; readiness opens a new one, as a restart would."""
    import psycopg

    p = make_platform("postgres", tmp_path)
    try:
        client = TestClient(create_app(p))
        assert client.get("/readyz").status_code == 200
        name = p.units[0].url.rsplit("/", 1)[1]
        admin = PG_URL.rstrip("/").rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false")
            try:
                down = client.get("/readyz")
                assert down.status_code == 503
                assert _failing(down) == ["db:unit0"]
            finally:
                conn.execute(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true")
        assert client.get("/readyz").status_code == 200
    finally:
        p.close()
