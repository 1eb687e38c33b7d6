"""Trade-pay benchmark: create + pay + notification queued, against instant pay in the same run.

    python bench/trades_scenario.py [--trades 2000] [--threads 32]

Prints one table and writes JSON to bench/results/. ``run_scenario(p, ...)`` is what the
payments benchmark calls with its own platform.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.factories import new_user

from qianbao.bootstrap import open_platform
from qianbao.members import service as members
from qianbao.openapi import apps, signing
from qianbao.payments import service as payments
from qianbao.payments import trades
from qianbao.platform.runtime import Platform
from qianbao.platform.settings import Settings


def _users(p: Platform, count: int, balance_fen: int) -> list[str]:
    return [
        new_user(p, unit=n % len(p.units), balance_fen=balance_fen, password_free_fen=200_000)
        for n in range(count)
    ]


def _timed(threads: int, jobs: list[Callable[[], None]]) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    it = iter(jobs)

    def worker() -> None:
        mine = []
        while True:
            with lock:
                job = next(it, None)
            if job is None:
                break
            start = time.perf_counter()
            job()
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.perf_counter() - started, latencies


def _row(name: str, n: int, seconds: float, lat: list[float]) -> dict[str, Any]:
    lat = sorted(lat)
    return {
        "scenario": name,
        "operations": n,
        "seconds": round(seconds, 3),
        "per_second": round(n / seconds, 1),
        "p50_ms": round(statistics.median(lat) * 1000, 2),
        "p99_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000, 2),
    }


def run_scenario(
    p: Platform, n_trades: int = 2000, threads: int = 32, buyers: int = 64
) -> list[dict[str, Any]]:
    """Returns rows for the reference (instant pay_merchant) and the trade-pay scenario."""
    from bench.payments import let_risk_pass

    merchant, _ = members.create_merchant(p, f"bench-{uuid.uuid4().hex[:8]}")
    m = merchant["id"]
    let_risk_pass(p, m)
    _, app_public = signing.new_key_pair()
    app = apps.create_app(p, m, "bench app", app_public, notify_url="http://127.0.0.1:9/notify")
    users = _users(p, buyers, 10_000_000)
    tag = uuid.uuid4().hex[:6]

    def instant(i: int) -> Callable[[], None]:
        def job() -> None:
            payments.pay_merchant(p, users[i % buyers], m, 1_00, f"ref-{tag}-{i}")

        return job

    def trade(i: int) -> Callable[[], None]:
        def job() -> None:
            buyer = users[i % buyers]
            req = trades.TradeRequest(
                m,
                f"bench-{tag}-{i}",
                "bench",
                1_00,
                app_id=app["app_id"],
                notify_url=app["notify_url"],
            )
            t = trades.create(p, req, buyer)
            trades.pay(p, t["id"], buyer, None)

        return job

    def created(i: int) -> tuple[str, str]:
        buyer = users[i % buyers]
        req = trades.TradeRequest(
            m,
            f"bench-{tag}-p{i}",
            "bench",
            1_00,
            app_id=app["app_id"],
            notify_url=app["notify_url"],
        )
        return str(trades.create(p, req, buyer)["id"]), buyer

    def pay_only(trade_id: str, buyer: str) -> Callable[[], None]:
        def job() -> None:
            trades.pay(p, trade_id, buyer, None)

        return job

    ref_s, ref_lat = _timed(threads, [instant(i) for i in range(n_trades)])
    trade_s, trade_lat = _timed(threads, [trade(i) for i in range(n_trades)])
    waiting = [created(i) for i in range(n_trades)]  # created beforehand, not timed
    pay_s, pay_lat = _timed(threads, [pay_only(t, b) for t, b in waiting])
    queued = 0
    for db in p.units:
        with db.read() as tx:
            queued += int(
                tx.scalar("SELECT COUNT(*) FROM notify_tasks WHERE merchant_id = :m", {"m": m}) or 0
            )
    assert queued == 2 * n_trades, f"{queued} notifications queued for {2 * n_trades} trades"
    return [
        _row("reference: instant pay_merchant", n_trades, ref_s, ref_lat),
        _row("trade: create + pay + notify queued", n_trades, trade_s, trade_lat),
        _row("trade: pay a created trade + notify", n_trades, pay_s, pay_lat),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trades", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), password_time_cost=1, password_memory_kib=1024)
        p = open_platform(settings)
        try:
            rows = run_scenario(p, args.trades, args.threads)
        finally:
            p.close()
    machine = f"{host.machine()} {os.cpu_count()} CPUs, Python {host.python_version()}, SQLite"
    print(f"trade benchmark on {machine} ({args.threads} client threads, 2 units)")
    print(f"{'scenario':40} {'ops':>6} {'s':>7} {'ops/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for r in rows:
        print(
            f"{r['scenario']:40} {r['operations']:>6} {r['seconds']:>7} {r['per_second']:>8}"
            f" {r['p50_ms']:>8} {r['p99_ms']:>8}"
        )
    out = Path(__file__).parent / "results" / "trades.json"
    out.write_text(
        json.dumps({"machine": machine, "threads": args.threads, "rows": rows}, indent=2)
    )
    print(f"written {out}")


if __name__ == "__main__":
    main()
