"""The books' close (日结) at scale: a day on which 1,000,000 accounts moved with 5,000,000
postings, closed by the platform's own ``close_day`` beside the bare aggregate of the same
postings measured in the same run.

    python bench/dayend.py [--accounts 1000000] [--postings 5000000]

The rows are written straight into the unit databases (two units, SQLite, as ``make run``),
balanced voucher by voucher and with cached balances equal to their postings, so the close's
checks must hold. The previous day is closed first (its close reads every posting: there is
nothing before it), then the measured day, which reads only the postings after the previous
day's last one. Prints one table and writes bench/results/dayend.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host
import sqlite3
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from qianbao.bootstrap import open_platform
from qianbao.ledger import closing
from qianbao.ledger.chart import SUBJECTS
from qianbao.platform.clock import TZ, clock, start_of_day_ms
from qianbao.platform.settings import Settings

console = Console()
TARGET_CLOSE_S = 60.0
DAY0 = date(2026, 6, 1)
DAY1 = DAY0 + timedelta(days=1)
OPENING_FEN = 1_000_000
CHUNK = 200_000


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": host.platform(),
        "sqlite": sqlite3.sqlite_version,
    }


def _day_ms(day: date, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` ascending timestamps spread over the business day (ids follow time)."""
    start = start_of_day_ms(day)
    return np.sort(rng.integers(start, start + 86_400_000, n))


def populate(db_path: Path, unit: int, accounts: int, postings: int, progress: Progress) -> None:
    """Day 0: every account funded from the bank reserve; day 1: ``postings`` / 2 transfers
    between the unit's accounts, every account moving at least once."""
    rng = np.random.default_rng(unit)
    side = SUBJECTS["user_balance"].side
    ids = [f"user_balance:b{unit}x{i:07d}" for i in range(accounts)]
    reserve = f"bank_reserve:SIMBANK@u{unit}"
    con = sqlite3.connect(db_path, isolation_level=None)
    con.execute("PRAGMA synchronous=OFF")
    con.execute("BEGIN")
    task = progress.add_task(f"unit {unit}: rows", total=accounts + postings)
    day0 = int(start_of_day_ms(DAY0)) + 3_600_000
    vouchers, rows = [], []
    for first in range(0, accounts, 1000):  # one funding voucher per 1,000 accounts
        voucher = f"fund-{unit}-{first}"
        vouchers.append((voucher, "bench.fund", voucher, "", day0))
        block = ids[first : first + 1000]
        rows += [(voucher, a, side * OPENING_FEN, day0) for a in block]
        rows.append((voucher, reserve, -side * OPENING_FEN * len(block), day0))
    _insert(con, vouchers, rows)
    progress.advance(task, accounts)
    sums = np.full(accounts, side * OPENING_FEN, dtype=np.int64)
    transfers = postings // 2
    payer = np.concatenate([rng.permutation(accounts), rng.integers(0, accounts, transfers)])
    payer = payer[:transfers]
    payee = (payer + rng.integers(1, accounts, transfers)) % accounts
    amount = rng.integers(1, 100, transfers)
    at = _day_ms(DAY1, transfers, rng)
    np.add.at(sums, payer, -side * amount)
    np.add.at(sums, payee, side * amount)
    for lo in range(0, transfers, CHUNK):
        hi = min(lo + CHUNK, transfers)
        vouchers = [
            (f"t{unit}-{k}", "bench.transfer", f"t{unit}-{k}", "", int(at[k]))
            for k in range(lo, hi)
        ]
        rows = []
        for k in range(lo, hi):
            v, ms, fen = f"t{unit}-{k}", int(at[k]), int(amount[k])
            rows.append((v, ids[payer[k]], -side * fen, ms))
            rows.append((v, ids[payee[k]], side * fen, ms))
        _insert(con, vouchers, rows)
        progress.advance(task, 2 * (hi - lo))
    con.executemany(
        "INSERT INTO accounts (id, subject, owner_id, balance_fen, hold_fen, created_at_ms)"
        " VALUES (?, 'user_balance', ?, ?, 0, ?)",
        ((a, a.split(":")[1], side * int(s), day0 - 1) for a, s in zip(ids, sums, strict=True)),
    )
    con.execute(
        "UPDATE accounts SET balance_fen = balance_fen + ? WHERE id = ?",
        (SUBJECTS["bank_reserve"].side * -side * OPENING_FEN * accounts, reserve),
    )
    con.execute("COMMIT")
    con.close()


def _insert(con: sqlite3.Connection, vouchers: list[tuple], rows: list[tuple]) -> None:
    con.executemany(
        "INSERT INTO vouchers (id, kind, ref, memo, created_at_ms) VALUES (?, ?, ?, ?, ?)",
        vouchers,
    )
    con.executemany(
        "INSERT INTO postings (voucher_id, account_id, amount_fen, created_at_ms)"
        " VALUES (?, ?, ?, ?)",
        rows,
    )


def bare_aggregate(db_path: Path, mark: int) -> float:
    """The least a close must do: each account's sum of the postings after ``mark``."""
    con = sqlite3.connect(db_path)
    started = time.perf_counter()
    rows = con.execute(
        "SELECT account_id || '', SUM(amount_fen) FROM postings WHERE id > ?"
        " GROUP BY account_id || ''",
        (mark,),
    ).fetchall()
    seconds = time.perf_counter() - started
    con.close()
    assert rows
    return seconds


def bare_aggregates(paths: list[Path], marks: list[int]) -> float:
    """``bare_aggregate`` of every unit side by side, as the close reads them."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(paths)) as pool:
        list(pool.map(bare_aggregate, paths, marks))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--postings", type=int, default=5_000_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/dayend.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qb-dayend-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        p = open_platform(settings)
        units = len(p.units)
        paths = [Path(tmp) / f"unit{u}.db" for u in range(units)]
        assert all(path.exists() for path in paths), paths
        with Progress(console=console) as progress:
            for u, path in enumerate(paths):
                populate(path, u, args.accounts // units, args.postings // units, progress)
        clock.set(datetime(DAY1.year, DAY1.month, DAY1.day, 12, tzinfo=TZ) + timedelta(days=1))
        try:
            started = time.perf_counter()
            first = closing.close_day(p, DAY0)
            first_s = time.perf_counter() - started
            assert first.ok and first.closed, [u.problems[:3] for u in first.units]
            marks = [u.last_posting_id for u in first.units]
            reference_s = bare_aggregates(paths, marks)
            started = time.perf_counter()
            day = closing.close_day(p, DAY1)
            close_s = time.perf_counter() - started
            assert day.ok and day.closed, [u.problems[:3] for u in day.units]
        finally:
            clock.use_real_time()
            p.close()
    moved = sum(len(u.accounts) for u in day.units)
    postings = sum(u.postings for u in day.units)
    results = {
        "accounts": moved,
        "postings": postings,
        "close_s": round(close_s, 2),
        "first_close_s": round(first_s, 2),
        "bare_aggregate_s": round(reference_s, 2),
        "close_vs_bare_aggregate": round(close_s / reference_s, 2),
        "target_close_s": TARGET_CLOSE_S,
        "met": close_s <= TARGET_CLOSE_S,
        "units": units,
        "machine": machine(),
    }
    table = Table(title="The books' close (日结), one day")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in results.items():
        if key != "machine":
            table.add_row(key, str(value))
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
