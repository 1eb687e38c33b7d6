"""Yu'e Bao's daily income run for a million holders, beside a bare bulk insert of the same rows.

    python bench/yuebao.py [--holders 1000000] [--units 2] [--check] [--engine postgres]

Seeds ``--holders`` holders with confirmed shares (1 share = 1 fen; 100 to 5,000,000 fen each,
spread over the units) and the fund company's omnibus accounts, then times the day's income
run exactly as the day end runs it (``wealth.dayend.income``): the fund publishes 万份收益 and
books its income, then every unit, side by side in its own writer, reads its holders' shares,
computes each income (shares × 万份收益 ÷ 10,000, rounded down to the fen) and books one voucher
with a posting per holder (one multi-row insert of the postings, one guarded multi-row update of
the balances), durably (SQLite WAL, synchronous=FULL). It then runs the same day again (a
restart: nothing may change) and, with ``--check``, the ledger check of every unit.

The reference, measured in the same run: a bare sqlite3 loop inserting the same number of
posting rows and updating the same number of balances, in one transaction (on PostgreSQL: a
COPY of the rows and one UPDATE ... FROM of the balances).
Prints one table and writes bench/results/yuebao.json (keys: holders, income_run_s, machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host
import random
import sqlite3
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from qianbao.bootstrap import open_platform
from qianbao.ledger.service import check_unit, credit, debit, post_bulk
from qianbao.ledger.store import open_accounts
from qianbao.platform.clock import clock
from qianbao.platform.ids import BUCKETS
from qianbao.platform.runtime import Platform
from qianbao.platform.settings import Settings
from qianbao.platform.writer import WriteContext
from qianbao.wealth import state
from qianbao.wealth.dayend import income

console = Console()
TARGET_S = 60.0
DAY = date(2026, 6, 16)
PER_10K = "0.4932"  # 1.8% a year


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": host.platform(),
        "sqlite": sqlite3.sqlite_version,
    }


def seed(p: Platform, holders: int, rng: random.Random) -> dict[int, int]:
    """Holders with confirmed shares in every unit, booked as one voucher per unit (shares
    against the unit's custody) and mirrored in the fund's omnibus accounts."""
    per_unit: dict[int, list[tuple[str, int]]] = {u: [] for u in range(len(p.units))}
    for n in range(holders):
        bucket = n % BUCKETS
        user = f"{n:016d}{bucket:02d}"
        per_unit[p.unit_of_bucket(bucket)].append((user, rng.randint(100, 5_000_000)))
    totals = {}
    for unit, rows in per_unit.items():
        total = sum(s for _, s in rows)
        p.writers[unit].submit_async(
            lambda ctx, rows=rows, unit=unit, total=total: _seed_unit(ctx, rows, unit, total)
        ).result(timeout=900)
        state.of(p).fund.seed(state.fund_account_no(unit), total)
        totals[unit] = total
    return totals


def _seed_unit(ctx: WriteContext, rows: list[tuple[str, int]], unit: int, total: int) -> None:
    open_accounts(ctx.tx, [(state.shares(u), u) for u, _ in rows])
    legs = [credit(state.shares(u), s) for u, s in rows] + [debit(state.custody(unit), total)]
    post_bulk(ctx, "YEB_SEED", "seed", legs, memo="benchmark holders")


def bare_reference(path: Path, rows: int) -> float:
    """The same number of posting rows inserted and balances updated, in a bare sqlite3 loop."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE bal (id TEXT PRIMARY KEY, fen INTEGER NOT NULL)")
    db.execute("CREATE TABLE post (id INTEGER PRIMARY KEY, v TEXT, acct TEXT, fen INT, at INT)")
    db.execute("BEGIN")
    db.executemany("INSERT INTO bal VALUES (?, ?)", ((f"a{i}", 10_000) for i in range(rows)))
    db.execute("COMMIT")
    start = time.perf_counter()
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO post (v, acct, fen, at) VALUES ('v', ?, 4, 0)",
        ((f"a{i}",) for i in range(rows)),
    )
    db.executemany("UPDATE bal SET fen = fen + 4 WHERE id = ?", ((f"a{i}",) for i in range(rows)))
    db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def bare_postgres(url: str, rows: int) -> float:
    """The PostgreSQL reference: COPY the same number of posting rows and update as many
    balances from a staged table, in one transaction."""
    import psycopg

    with psycopg.connect(url) as db:
        db.execute("CREATE TABLE bal (id TEXT PRIMARY KEY, fen BIGINT NOT NULL)")
        db.execute("CREATE TABLE post (id BIGSERIAL PRIMARY KEY, v TEXT, acct TEXT, fen BIGINT)")
        db.execute("INSERT INTO bal SELECT 'a' || g, 10000 FROM generate_series(1, %s) g", (rows,))
        db.commit()
        start = time.perf_counter()
        with db.cursor().copy("COPY post (v, acct, fen) FROM STDIN") as copy:
            for i in range(1, rows + 1):
                copy.write_row(("v", f"a{i}", 4))
        db.execute("UPDATE bal SET fen = bal.fen + post.fen FROM post WHERE post.acct = bal.id")
        db.commit()
        return time.perf_counter() - start


def _pg_databases(count: int) -> list[str]:
    import psycopg

    base = os.environ.get("QIANBAO_TEST_PG_URL", "")
    if not base:
        raise SystemExit("--engine postgres needs QIANBAO_TEST_PG_URL (scripts/pg-test-server.sh)")
    admin = base.rstrip("/").rsplit("/", 1)[0]
    names = [f"qb_yeb_bench_{i}" for i in range(count)]
    with psycopg.connect(admin + "/postgres", autocommit=True) as conn:
        for name in names:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
    return [f"{admin}/{n}" for n in names]


def run(holders: int, units: int, check: bool, engine: str = "sqlite") -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="qb-yuebao-"))
    settings = Settings(data_dir=tmp, unit_count=units, writer_timeout_ms=900_000)
    if engine == "postgres":
        urls = _pg_databases(units + 2)  # global, the units, and one for the reference
        settings = settings.with_(global_url=urls[0], unit_urls=tuple(urls[1 : units + 1]))
    p = open_platform(settings)
    try:
        clock.set(__import__("datetime").datetime(2026, 6, 17, 0, 10))
        t0 = time.perf_counter()
        totals = seed(p, holders, random.Random(7))
        seed_s = time.perf_counter() - t0
        state.of(p).fund.publish_rate(DAY, PER_10K)
        t0 = time.perf_counter()
        first = income(p, DAY)
        income_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = income(p, DAY)
        rerun_s = time.perf_counter() - t0
        assert again == first, "a re-run of the day changed the result"
        paid = sum(r["paid_fen"] for r in first)
        assert sum(r["holders"] for r in first) == holders
        checked = None
        if check:
            t0 = time.perf_counter()
            checked = all(check_unit(u, db).ok for u, db in enumerate(p.units))
            check_s = time.perf_counter() - t0
            assert checked, "the ledger check failed after the income run"
    finally:
        clock.use_real_time()
        p.close()
    if engine == "postgres":
        reference_s = bare_postgres(urls[-1], holders)
    else:
        reference_s = bare_reference(tmp / "bare.db", holders)
    return {
        "holders": holders,
        "engine": engine,
        "units": units,
        "income_run_s": round(income_s, 3),
        "rerun_s": round(rerun_s, 3),
        "seed_s": round(seed_s, 3),
        "shares_fen": sum(totals.values()),
        "income_paid_fen": paid,
        "retained_fen": sum(r["retained_fen"] for r in first),
        "reference_bare_insert_s": round(reference_s, 3),
        "vs_reference": round(income_s / reference_s, 2) if reference_s else None,
        "ledger_check": checked,
        "ledger_check_s": round(check_s, 3) if check else None,
        "target_s": TARGET_S,
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--holders", type=int, default=1_000_000)
    parser.add_argument("--units", type=int, default=2)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--engine", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--out", type=Path, default=None, help="default bench/results/yuebao.json")
    args = parser.parse_args()
    suffix = "" if args.engine == "sqlite" else f"-{args.engine}"
    args.out = args.out or ROOT / "bench" / "results" / f"yuebao{suffix}.json"
    result = run(args.holders, args.units, args.check, args.engine)
    table = Table(title=f"Yu'e Bao daily income, {args.holders:,} holders, {args.engine}")
    for column in ("measure", "seconds", "note"):
        table.add_column(column)
    table.add_row("income run", f"{result['income_run_s']:.2f}", f"target <= {TARGET_S:.0f} s")
    table.add_row("re-run (restart)", f"{result['rerun_s']:.2f}", "nothing changes")
    table.add_row("bare bulk insert", f"{result['reference_bare_insert_s']:.2f}", "reference")
    table.add_row("seed", f"{result['seed_s']:.2f}", "holders and their shares")
    if result["ledger_check"] is not None:
        table.add_row("ledger check", f"{result['ledger_check_s']:.2f}", "clean")
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {args.out}")
    if result["income_run_s"] > TARGET_S:
        raise SystemExit(f"income run took {result['income_run_s']} s > {TARGET_S} s")


if __name__ == "__main__":
    main()
