"""Money-out, bill-payment and full-reduction benchmark, against plain wallet payments measured
in the same run on the same platform (SQLite, in process, threads calling the use cases).

    python bench/moneyout.py [--ops 600] [--threads 16]

Scenarios: a plain ``pay_merchant`` (the reference), the same with a live full-reduction offer
on every payment (cashier look-up, budget slice spent, offer row, marketing-expense leg), a
transfer to a bank card (one bank payout each through the journaled simulator), a bill payment
(biller look-up, engine pay, write-off at the biller simulator), and merchant payouts. Prints
one table and writes JSON to bench/results/moneyout.json.
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

from tests.factories import new_user  # noqa: E402

from qianbao.billpay import service as billpay  # noqa: E402
from qianbao.bootstrap import open_platform  # noqa: E402
from qianbao.ledger.service import check_platform  # noqa: E402
from qianbao.marketing.reductions import service as reductions  # noqa: E402
from qianbao.members import service as members  # noqa: E402
from qianbao.members.identity import make_card_no  # noqa: E402
from qianbao.payments import service as payments  # noqa: E402
from qianbao.payments.moneyout import cards, payouts  # noqa: E402
from qianbao.platform.clock import clock  # noqa: E402
from qianbao.platform.runtime import Platform  # noqa: E402
from qianbao.platform.settings import Settings  # noqa: E402

Job = Callable[[], object]


def _timed(threads: int, jobs: list[Job]) -> tuple[float, list[float]]:
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


def _row(name: str, seconds: float, lat: list[float], ref_per_s: float) -> dict[str, Any]:
    lat = sorted(lat)
    per_s = len(lat) / seconds
    return {
        "scenario": name,
        "operations": len(lat),
        "seconds": round(seconds, 3),
        "per_second": round(per_s, 1),
        "p50_ms": round(statistics.median(lat) * 1000, 2),
        "p99_ms": round(lat[max(0, int(len(lat) * 0.99) - 1)] * 1000, 2),
        "vs_reference": round(per_s / ref_per_s, 3) if ref_per_s else 1.0,
    }


def _setup(p: Platform, ops: int, users_n: int) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    users = [
        new_user(p, unit=n % len(p.units), balance_fen=10_000_000, password_free_fen=200_000)
        for n in range(users_n)
    ]
    plain, _ = members.create_merchant(p, f"plain-{tag}")
    offered, _ = members.create_merchant(p, f"offer-{tag}")
    now = clock.now_ms()
    reductions.create_campaign(
        p,
        name=f"bench-{tag}",
        funder="MERCHANT",
        tiers=[(50, 1)],
        budget_fen=10 * ops,
        valid_from_ms=now - 1000,
        valid_until_ms=now + 86_400_000,
        merchant_id=offered["id"],
    )
    biller = billpay.register_biller(p, f"B{tag}", f"水务{tag}", "WATER")["code"]
    bills = []
    for i in range(ops):
        account = f"{i:08d}"
        p.billers.open_account(biller, account, "户主")
        bills.append(
            (account, p.billers.issue_bill(biller, account, "2026-12", 1_00, "2026-12-25"))
        )
    payouts.set_settlement_account(p, plain["id"], make_card_no(f"6225{tag_digits(tag)}"), "商户")
    return {
        "users": users,
        "plain": plain["id"],
        "offered": offered["id"],
        "biller": biller,
        "bills": bills,
        "tag": tag,
    }


def tag_digits(tag: str) -> str:
    return f"{int(tag, 16) % 10**11:011d}"


def run(p: Platform, ops: int, threads: int) -> list[dict[str, Any]]:
    s = _setup(p, ops, 32)
    users, tag = s["users"], s["tag"]

    def pay(merchant: str, prefix: str) -> list[Job]:
        return [
            (
                lambda i=i: payments.pay_merchant(
                    p, users[i % 32], merchant, 1_00, f"{prefix}{tag}{i}"
                )
            )
            for i in range(ops)
        ]

    card = make_card_no(f"6226{tag_digits(tag)}")
    transfers = [
        (
            lambda i=i: cards.transfer_to_card(
                p, users[i % 32], card, "收款人", 1_00, f"c{tag}{i}", None
            )
        )
        for i in range(ops)
    ]
    bills = [
        (
            lambda i=i, a=a, b=b: billpay.pay_bill(
                p, users[i % 32], s["biller"], a, b, f"b{tag}{i}", None
            )
        )
        for i, (a, b) in enumerate(s["bills"])
    ]
    outs = [
        (lambda i=i: payouts.request_payout(p, s["plain"], 1_00, f"po{tag}{i}"))
        for i in range(ops // 4)
    ]
    _timed(threads, pay(s["plain"], "warm"))  # warm-up (caches, connections), not reported
    ref_s, ref_lat = _timed(threads, pay(s["plain"], "r"))
    ref = len(ref_lat) / ref_s
    rows = [_row("reference: pay_merchant", ref_s, ref_lat, ref)]
    rows.append(
        _row(
            "pay_merchant with a full-reduction offer",
            *_timed(threads, pay(s["offered"], "o")),
            ref,
        )
    )
    rows.append(_row("transfer to a bank card (bank payout)", *_timed(threads, transfers), ref))
    rows.append(_row("bill payment (biller write-off)", *_timed(threads, bills), ref))
    rows.append(_row("merchant payout", *_timed(threads, outs), ref))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ops", type=int, default=600)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), password_time_cost=1, password_memory_kib=1024)
        p = open_platform(settings)
        try:
            rows = run(p, args.ops, args.threads)
            p.relay.drain()
            check = check_platform(p)
        finally:
            p.close()
    machine = f"{host.machine()} {os.cpu_count()} CPUs, Python {host.python_version()}, SQLite"
    print(f"{'scenario':44} {'ops':>6} {'per s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs ref':>7}")
    for r in rows:
        print(
            f"{r['scenario']:44} {r['operations']:>6} {r['per_second']:>9} {r['p50_ms']:>8}"
            f" {r['p99_ms']:>8} {r['vs_reference']:>7}"
        )
    print(f"ledger check: {'clean' if check.ok else 'NOT CLEAN'}; machine: {machine}")
    out = ROOT / "bench" / "results" / "moneyout.json"
    out.write_text(
        json.dumps(
            {"machine": machine, "threads": args.threads, "rows": rows, "ledger_clean": check.ok},
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
