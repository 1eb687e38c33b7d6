"""The wallet's pages over real HTTP (uvicorn on 127.0.0.1, one client, sequential requests) for a
user with many postings, beside references measured in the same run: ``/healthz`` (the server's
floor) and the API's unfiltered statement ``GET /api/v1/me/statement?limit=20`` (the same
ledger read without the page).

    python bench/wallet_pages.py [--postings 2000] [--requests 100]

Reported per path: p50 and p99 latency in ms. Prints one table and writes
bench/results/wallet_pages.json. Ends with the ledger check.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.payments import machine
from tests.conftest import assert_ledger_clean, make_platform
from tests.factories import LOGIN_PASSWORD, new_user
from tests.http_server import serving

from qianbao.members import service as members
from qianbao.payments import service as payments

console = Console()
PATHS = [
    ("reference: /healthz", "/healthz", "none"),
    ("reference: API statement (20)", "/api/v1/me/statement?limit=20", "token"),
    ("/wallet (home)", "/wallet", "cookie"),
    ("/wallet/statement page 1", "/wallet/statement", "cookie"),
    ("/wallet/statement page 50", "/wallet/statement?page=50", "cookie"),
    ("/wallet/statement out only", "/wallet/statement?direction=out", "cookie"),
    ("/wallet/statement.csv (all)", "/wallet/statement.csv", "cookie"),
    ("/wallet/pay-code (new code + QR)", "/wallet/pay-code", "cookie"),
    ("/wallet/trades", "/wallet/trades", "cookie"),
]


def _seed(p: Any, postings: int) -> tuple[str, str]:
    """A user with ``postings`` wallet postings (transfers to and from a friend, password-free)."""
    user = new_user(p, balance_fen=10_000_00, password_free_fen=100_00)
    friend = new_user(p, balance_fen=10_000_00, password_free_fen=100_00)
    for i in range(postings // 2):
        payments.transfer(p, user, friend, 1_00 + i % 50, f"b-out-{i}", None)
        payments.transfer(p, friend, user, 1_00 + i % 30, f"b-in-{i}", None)
    p.relay.drain()
    return user, str(members.get_user(p, user)["phone"])


def _login(client: httpx.Client, phone: str) -> str:
    """Sign in the browser's way (cookie) and the API's way (token); returns the token."""
    page = client.get("/wallet").text
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page)
    assert csrf
    form = {"csrf_token": csrf.group(1), "phone": phone, "password": LOGIN_PASSWORD}
    client.post("/wallet/login", data=form | {"next": "/wallet"})
    body = {"phone": phone, "password": LOGIN_PASSWORD}
    return str(client.post("/api/v1/sessions", json=body).json()["token"])


def _measure(client: httpx.Client, path: str, auth: str, token: str, n: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if auth == "token" else {}
    times = []
    for _ in range(n):
        start = time.perf_counter()
        answer = client.get(path, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return {"p50_ms": round(statistics.median(times), 2), "p99_ms": round(p99, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postings", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    p = make_platform("sqlite", Path(tempfile.mkdtemp(prefix="qb-wallet-bench-")))
    try:
        _, phone = _seed(p, args.postings)
        with serving(p) as base, httpx.Client(base_url=base, timeout=30) as client:
            token = _login(client, phone)
            rows = {
                name: _measure(client, path, auth, token, args.requests)
                for name, path, auth in PATHS
            }
        assert_ledger_clean(p)
    finally:
        p.close()
    table = Table(title=f"wallet pages, {args.postings} postings, {args.requests} requests each")
    for column in ("path", "p50 ms", "p99 ms"):
        table.add_column(column)
    for name, r in rows.items():
        table.add_row(name, f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}")
    console.print(table)
    out = {"machine": machine(), "postings": args.postings, "requests": args.requests, "rows": rows}
    (ROOT / "bench" / "results" / "wallet_pages.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
