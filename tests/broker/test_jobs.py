"""Periodic jobs as workers: a slow merchant webhook does not delay the books' close, a failing
job is retried and counted, and a process runs the jobs of the units it owns only."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from qianbao.bootstrap import open_platform
from qianbao.ledger import closing
from qianbao.openapi import notify
from qianbao.payments import trades
from qianbao.platform.clock import clock
from qianbao.platform.jobs import Job, Scheduler, run_once
from qianbao.platform.writer import wait_until
from qianbao.server import periodic_jobs
from tests.conftest import fast_settings
from tests.factories import PAY_PASSWORD, new_user
from tests.trades.conftest import Gateway, gw, receiver  # noqa: F401 (fixtures)

SLOW_S = 1.5


@pytest.fixture
def slow_merchant() -> Iterator[dict[str, Any]]:
    """A merchant notify endpoint that takes ``SLOW_S`` to answer each notification."""
    seen: dict[str, Any] = {"url": "", "posts": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            self.rfile.read(int(self.headers.get("content-length") or 0))
            time.sleep(SLOW_S)
            seen["posts"] += 1
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"success")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    seen["url"] = f"http://127.0.0.1:{server.server_address[1]}/notify"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_slow_webhook_does_not_delay_the_books_close(
    gw: Gateway,  # noqa: F811
    slow_merchant: dict[str, Any],
) -> None:
    p = gw.p
    gw.client.notify_url = slow_merchant["url"]
    orders = []
    for i in range(3):
        buyer = new_user(p, balance_fen=50_00)
        created = gw.client.call(
            "qianbao.trade.create",
            {
                "out_trade_no": f"slow-{i}",
                "total_amount": "5.00",
                "subject": "s",
                "buyer_id": buyer,
            },
        )
        orders.append((created["trade_no"], buyer))
    clock.set(datetime.now())  # the business clock stands still while the jobs run
    for trade_no, buyer in orders:
        trades.pay(p, trade_no, buyer, PAY_PASSWORD)
    yesterday = clock.today() - timedelta(days=1)
    assert not closing.trial_balance(p, yesterday).closed
    jobs = periodic_jobs(p, tick_s=0.05)
    names = [job.name for job in jobs]
    for name in (
        "trade_timeouts",
        "notifications",
        "customer_notices",
        "red_packet_refunds",
        "bank_follow_up",
        "yuebao_then_huabei_days",
        "settlement_t1",
        "books_close",
        "reconciliation",
    ):
        assert name in names, names  # each its own worker
    assert len(set(names)) == len(names)
    scheduler = Scheduler(jobs).start()
    try:
        webhooks = scheduler.jobs["notifications"]
        assert wait_until(lambda: webhooks.running, timeout_s=5)
        assert wait_until(lambda: closing.trial_balance(p, yesterday).closed, timeout_s=10)
        # the webhooks take 3 x 1.5 s in one run: the books closed while it was still going
        # (a serial job loop would close them only after that run)
        assert webhooks.runs == 0
        assert webhooks.running and slow_merchant["posts"] < 3
        assert wait_until(lambda: slow_merchant["posts"] == 3, timeout_s=15)
    finally:
        scheduler.stop()
    assert {t["status"] for t in notify.list_tasks(p)} == {"DELIVERED"}
    assert scheduler.jobs["books_close"].failures == 0
    assert scheduler.jobs["books_close"].runs > scheduler.jobs["notifications"].runs
    sample = REGISTRY.get_sample_value(
        "qianbao_job_runs_total", {"job": "books_close", "outcome": "ok"}
    )
    assert sample is not None and sample >= 1


def test_a_failing_job_is_counted_and_runs_again() -> None:
    calls: list[float] = []

    def flaky() -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("first run fails")

    before = REGISTRY.get_sample_value(
        "qianbao_job_runs_total", {"job": "flaky", "outcome": "error"}
    )
    job = Job("flaky", 0.02, flaky)
    scheduler = Scheduler([job]).start()
    try:
        assert wait_until(lambda: len(calls) >= 3, timeout_s=5)
    finally:
        scheduler.stop()
    assert job.failures == 1 and job.last_error == ""  # the later runs succeeded
    after = REGISTRY.get_sample_value(
        "qianbao_job_runs_total", {"job": "flaky", "outcome": "error"}
    )
    assert (after or 0) - (before or 0) == 1
    stopped_at = len(calls)
    time.sleep(0.1)
    assert len(calls) == stopped_at  # stopped: no new run
    scheduler.start()  # restartable
    try:
        assert wait_until(lambda: len(calls) > stopped_at, timeout_s=5)
    finally:
        scheduler.stop()


def test_a_process_runs_the_jobs_of_its_own_units(tmp_path: Path) -> None:
    p = open_platform(fast_settings(tmp_path, owned_units=(1,)))
    try:
        jobs = periodic_jobs(p, tick_s=0.05)
        assert "reconciliation" not in [job.name for job in jobs]  # the owner of unit 0 runs it
        for job in jobs:
            assert run_once(job), job.last_error  # nothing reaches unit 0's (absent) writer
        yesterday = clock.today() - timedelta(days=1)
        books = closing.trial_balance(p, yesterday)
        assert [u.closed for u in books.units] == [False, True]
    finally:
        clock.use_real_time()
        p.close()


def test_the_served_app_runs_the_jobs_and_stops_them_at_shutdown(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from qianbao.server import build_app

    p = open_platform(fast_settings(tmp_path))
    try:
        app = build_app(p, threading.Event())
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
            jobs: Scheduler = app.state.jobs
            names = {job["job"] for job in jobs.status()}
            assert {"books_close", "notifications", "reconciliation"} <= names
            assert all(t.is_alive() for t in jobs._threads)
            threads = list(jobs._threads)
        assert not any(t.is_alive() for t in threads)  # stopped with the server
    finally:
        p.close()
