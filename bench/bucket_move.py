"""A bucket move under load: payments' latency with and without a move, measured in one run.

    python bench/bucket_move.py [--seconds 4] [--threads 8] [--users 24]

Embedded mode (SQLite, two units, one process). Users sit in a few buckets of unit 0; threads
pay a merchant from the wallet as fast as they can. After a 1 s warm-up, phase 1 (the reference)
runs ``--seconds`` with no move; phase 2 runs as long with bucket 7 moved to unit 1 in its
middle. A payment of the moved bucket that gets 503 ``BUCKET_MOVING`` is retried with the same
request id after 10 ms (its latency includes the wait). Reported: payments/s, p50/p99 per phase
for the other buckets and the moved one, the pause window (first to last 503), the move's
duration and the ledger check. After the switch a quarter of the load is written by unit 1's
writer, so phase 2 can beat the reference: that is what moving buckets to a unit is for.
Prints one table and writes bench/results/bucket_move.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.payments import machine
from tests.cluster.test_bucket_move import PAY, _user_in_bucket
from tests.conftest import fast_settings

from qianbao.bootstrap import open_platform
from qianbao.cluster.buckets import move
from qianbao.ledger.service import check_platform
from qianbao.members import service as members
from qianbao.payments import service as payments
from qianbao.platform.errors import BucketMoving
from qianbao.platform.runtime import Platform

MOVED = 7
OTHERS = (3, 12, 21)


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


class Phase:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = {"moved": [], "other": []}
        self.busy_at: list[float] = []
        self.lock = threading.Lock()
        self.elapsed_s = 0.0


def pay_loop(
    p: Platform,
    merchant: str,
    users: list[str],
    stop: threading.Event,
    phase: Phase,
    seq: itertools.count[int],
) -> None:
    for n in itertools.count():
        if stop.is_set():
            return
        user = users[n % len(users)]
        request_id = f"b{next(seq)}"
        started = time.perf_counter()
        while True:
            try:
                payments.pay_merchant(p, user, merchant, 1, request_id, PAY)
                break
            except BucketMoving:
                with phase.lock:
                    phase.busy_at.append(time.perf_counter())
                time.sleep(0.01)
        kind = "moved" if user.endswith(f"{MOVED:02d}") else "other"
        with phase.lock:
            phase.latency[kind].append(time.perf_counter() - started)


def run_phase(
    p: Platform,
    merchant: str,
    users: list[str],
    args: Any,
    with_move: bool,
    seq: itertools.count[int],
) -> tuple[Phase, float]:
    phase, stop = Phase(), threading.Event()
    threads = [
        threading.Thread(
            target=pay_loop, args=(p, merchant, users[i :: args.threads], stop, phase, seq)
        )
        for i in range(args.threads)
    ]
    for t in threads:
        t.start()
    move_s, started_phase = 0.0, time.perf_counter()
    if with_move:
        time.sleep(args.seconds / 2)
        started = time.perf_counter()
        move.run(p, MOVED, 1)
        move_s = time.perf_counter() - started
        time.sleep(args.seconds / 2)
    else:
        time.sleep(args.seconds)
    stop.set()
    for t in threads:
        t.join()
    phase.elapsed_s = time.perf_counter() - started_phase
    return phase, move_s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--users", type=int, default=24)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        risk_off = {"risk": {"enabled": False}}  # a load of one merchant is what it refuses
        p = open_platform(fast_settings(Path(tmp), writer_wait_ms=1, extra=risk_off))
        try:
            merchant = str(members.create_merchant(p, "迁移压测商店")[0]["id"])
            buckets = (MOVED, *OTHERS)
            users = [_user_in_bucket(p, buckets[i % len(buckets)])[0] for i in range(args.users)]
            seq = itertools.count()
            warm = argparse.Namespace(seconds=1.0, threads=args.threads)
            run_phase(p, merchant, users, warm, False, seq)  # caches, pools: not measured
            reference, _ = run_phase(p, merchant, users, args, False, seq)
            moving, move_s = run_phase(p, merchant, users, args, True, seq)
            p.relay.drain()
            check = check_platform(p)
        finally:
            p.close()
    window = (max(moving.busy_at) - min(moving.busy_at)) * 1000 if moving.busy_at else 0.0
    result = {
        "reference_payments_per_s": round(
            sum(map(len, reference.latency.values())) / reference.elapsed_s
        ),
        "moving_payments_per_s": round(sum(map(len, moving.latency.values())) / moving.elapsed_s),
        "reference_p50_ms": pct(reference.latency["other"] + reference.latency["moved"], 0.5),
        "reference_p99_ms": pct(reference.latency["other"] + reference.latency["moved"], 0.99),
        "other_buckets_p99_ms_during_move": pct(moving.latency["other"], 0.99),
        "moved_bucket_p99_ms_during_move": pct(moving.latency["moved"], 0.99),
        "moved_bucket_max_ms_during_move": pct(moving.latency["moved"], 1.0),
        "bucket_moving_503s": len(moving.busy_at),
        "pause_window_ms": round(window, 1),
        "move_duration_ms": round(move_s * 1000, 1),
        "ledger_status": check.status,
        "machine": machine(),
        "settings": {"seconds": args.seconds, "threads": args.threads, "users": args.users},
    }
    table = Table("figure", "value", title="bucket move under payments (embedded, 2 units)")
    for key, value in result.items():
        if key not in ("machine", "settings"):
            table.add_row(key, str(value))
    Console().print(table)
    out = ROOT / "bench" / "results" / "bucket_move.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
