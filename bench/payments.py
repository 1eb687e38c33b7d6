"""Payments per second: in-process and over HTTP, on SQLite and PostgreSQL, beside references
measured in the same run (a bare sqlite3 loop and pgbench's TPC-B on the same server).

    make bench            # or: python bench/payments.py [--seconds 10] [--payers 64]

Every payment applies every rule of the wallet core: idempotency key, KYC limits (per payment and
daily), merchant fee, a balanced voucher, the outbox message to the merchant's home unit. Commits
are durable: SQLite in WAL mode with synchronous=FULL; PostgreSQL with fsync=on and
synchronous_commit=on. Prints one table and writes bench/results/payments.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as host
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.factories import LOGIN_PASSWORD, new_user

from qianbao.bootstrap import open_platform
from qianbao.members import service as members
from qianbao.money_movement.context import RequestContext, use
from qianbao.payments import service as payments
from qianbao.platform.runtime import Platform
from qianbao.platform.settings import Settings

console = Console()
PAYMENT_FEN = 100
HTTP_CONNECTIONS = 64
# Targets of "One money-movement engine", part 4 (docs/decisions/0008-batched-persistence.md).
TARGET_SQLITE_PER_S = 20_000
TARGET_VS_BARE_1000 = 0.066
TARGET_VS_TPCB = 1.0
TARGET_P99_MS = 20.0
HUABEI_LINE_FEN = 5_000_000  # the largest line an operator may set


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": host.platform(),
        "sqlite": sqlite3.sqlite_version,
    }


# --- references -----------------------------------------------------------------------------
def bare_sqlite(path: Path, seconds: float, per_commit: int) -> float:
    """Balance updates and journal inserts only, in a plain loop (the floor of what we add)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER NOT NULL)")
    db.execute("CREATE TABLE journal (id INTEGER PRIMARY KEY, src INT, dst INT, amt INT)")
    db.executemany("INSERT INTO acct VALUES (?, ?)", [(i, 10**9) for i in range(1000)])
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        db.execute("BEGIN")
        for _ in range(per_commit):
            src = done % 999 + 1
            db.execute("UPDATE acct SET bal = bal - 100 WHERE id = ? AND bal >= 100", (src,))
            db.execute("UPDATE acct SET bal = bal + 100 WHERE id = 0")
            db.execute("INSERT INTO journal (src, dst, amt) VALUES (?, 0, 100)", (src,))
            done += 1
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return done / elapsed


def pgbench_tps(pg_url: str, seconds: int, clients: int) -> float | None:
    exe = shutil.which("pgbench") or next(
        iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))), None
    )
    if exe is None:
        return None
    db = _pg_create_db(pg_url, "pgbench")
    subprocess.run([str(exe), "-i", "-s", "4", "-q", db], check=True, capture_output=True)
    out = subprocess.run(
        [str(exe), "-c", str(clients), "-j", "2", "-T", str(seconds), "-n", db],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"tps = ([\d.]+)", out)
    return float(match.group(1)) if match else None


_pg_created: list[str] = []


def _pg_create_db(pg_url: str, prefix: str) -> str:
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    _pg_created.append(name)
    return pg_url.rsplit("/", 1)[0] + "/" + name


def _pg_drop_created(pg_url: str) -> None:
    """The benchmark's databases go when it ends, so the test server does not grow run by run."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        while _pg_created:
            conn.execute(f"DROP DATABASE IF EXISTS {_pg_created.pop()} WITH (FORCE)")


# --- the platform -------------------------------------------------------------------------------
def bench_settings(data_dir: Path, pg_url: str | None) -> Settings:
    kw: dict[str, Any] = {
        "data_dir": data_dir,
        "password_time_cost": 1,
        "password_memory_kib": 1024,
    }
    if pg_url:
        urls = [_pg_create_db(pg_url, "qb_bench") for _ in range(3)]
        kw |= {"global_url": urls[0], "unit_urls": tuple(urls[1:])}
    return Settings(**kw)


def populate(p: Platform, payers: int) -> tuple[list[str], str]:
    users = [
        new_user(p, unit=i % len(p.units), balance_fen=10**7, password_free_fen=100_000)
        for i in range(payers)
    ]
    merchant = members.create_merchant(p, f"Bench Mart {uuid.uuid4().hex[:6]}")[0]["id"]
    let_risk_pass(p, merchant)
    return users, merchant


def let_risk_pass(p: Platform, merchant_id: str) -> None:
    """Put the bench merchant on risk control's allow list (as ``bench/risk.py`` does): every
    rule and the model still run on every payment, but the outcome is PASS — the bench's payers
    pay hundreds of times a minute, which the velocity rules would rightly challenge."""
    if p.money is not None and p.money.risk is not None:
        from qianbao.risk import service as risk

        risk.put_list_entry(p, "allow", "merchant", merchant_id, "benchmark merchant", "bench")


def payer_context(k: int) -> RequestContext:
    """Payer ``k``'s own device and IP (the risk check's inputs, as a real client sends)."""
    return RequestContext(
        device_id=f"bench-device-{k}", ip=f"10.{k // 250}.{k % 250}.7", user_agent="bench/1"
    )


def inprocess(
    p: Platform, users: list[str], merchant: str, seconds: float, warmup_s: float = 2.0
) -> float:
    """Payments per second with one thread per payer, after a warm-up of ``warmup_s``."""
    if warmup_s:
        inprocess(p, users, merchant, warmup_s, warmup_s=0)
    stop = time.perf_counter() + seconds
    counts = [0] * len(users)
    run = uuid.uuid4().hex[:8]  # fresh request ids: a replay would be cheaper than a payment

    def payer(i: int) -> None:
        n = 0
        with use(payer_context(i)):
            while time.perf_counter() < stop:
                payments.pay_merchant(p, users[i], merchant, PAYMENT_FEN, f"{run}-{n}")
                n += 1
        counts[i] = n

    threads = [threading.Thread(target=payer, args=(i,)) for i in range(len(users))]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - start)


def inprocess_async(
    p: Platform, users: list[str], merchant: str, seconds: float, warmup_s: float = 2.0
) -> tuple[float, dict[str, float]]:
    """Payments per second with one asyncio task per payer on one event loop (as the API), and
    the latency of each call (p50/p99/max, ms) measured around every ``await``."""

    async def drive(duration_s: float, latencies_s: list[float]) -> int:
        stop = time.perf_counter() + duration_s
        run = uuid.uuid4().hex[:8]

        async def payer(k: int, user: str) -> int:
            n = 0
            with use(payer_context(k)):
                while (started := time.perf_counter()) < stop:
                    await payments.pay_merchant_async(p, user, merchant, PAYMENT_FEN, f"{run}-{n}")
                    latencies_s.append(time.perf_counter() - started)
                    n += 1
            return n

        return sum(await asyncio.gather(*(payer(k, u) for k, u in enumerate(users))))

    if warmup_s:
        asyncio.run(drive(warmup_s, []))
    latencies_s: list[float] = []
    start, cpu_start = time.perf_counter(), time.process_time()
    done = asyncio.run(drive(seconds, latencies_s))
    latency = latency_ms(latencies_s)
    # the process's CPU (every thread) per payment: steadier than the rate on a shared machine
    latency["cpu_us_per_payment"] = round((time.process_time() - cpu_start) * 1e6 / done, 1)
    return done / (time.perf_counter() - start), latency


def open_loop(
    p: Platform, users: list[str], merchant: str, rate_per_s: float, seconds: float
) -> dict[str, float]:
    """Latency at an offered load below saturation: payments arrive at random (Poisson, mean
    ``rate_per_s``), each from the next payer in turn, whether or not earlier ones are done; a
    payment's latency runs from its scheduled arrival (a late start counts against us, so the
    figure has no coordinated omission)."""
    import random

    async def drive() -> dict[str, float]:
        rng, run = random.Random(7), uuid.uuid4().hex[:8]
        latencies_s: list[float] = []
        tasks: list[asyncio.Task[None]] = []

        async def one(n: int, due: float) -> None:
            with use(payer_context(n % len(users))):
                user = users[n % len(users)]
                await payments.pay_merchant_async(p, user, merchant, PAYMENT_FEN, f"{run}-o{n}")
            latencies_s.append(time.perf_counter() - due)

        start = due = time.perf_counter()
        n = 0
        while due < start + seconds:
            due += rng.expovariate(rate_per_s)
            if (wait_s := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait_s)
            tasks.append(asyncio.create_task(one(n, due)))
            n += 1
        await asyncio.gather(*tasks)
        done_s = time.perf_counter() - start
        return {"offered_per_s": round(rate_per_s), "done_per_s": round(n / done_s)} | latency_ms(
            latencies_s
        )

    return asyncio.run(drive())


def latency_ms(latencies_s: list[float]) -> dict[str, float]:
    ordered = sorted(latencies_s)
    if not ordered:
        return {}

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": round(ordered[-1] * 1000, 2)}


def huabei(p: Platform, users: list[str], merchant: str, seconds: float) -> float:
    """Huabei-funded payments per second (``credit.pay_merchant_with_huabei``), one thread per
    payer, after opening a Huabei account with a line for each payer."""
    from qianbao.credit import service as credit

    for user in users:
        credit.open_credit_account(p, user, f"bench-open-{user}")
        credit.operator_set_line(p, "op-bench", user, HUABEI_LINE_FEN, "benchmark line")
    stop = time.perf_counter() + seconds
    counts = [0] * len(users)
    run = uuid.uuid4().hex[:8]

    def payer(i: int) -> None:
        n = 0
        with use(payer_context(i)):
            while time.perf_counter() < stop:
                credit.pay_merchant_with_huabei(p, users[i], merchant, PAYMENT_FEN, f"hb{run}-{n}")
                n += 1
        counts[i] = n

    threads = [threading.Thread(target=payer, args=(i,)) for i in range(len(users))]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - start)


async def _python_load(base: str, tokens: list[str], merchant: str, seconds: float) -> int:
    """A fallback load generator when wrk is missing (slower: it competes for the same CPUs)."""
    import httpx

    done = 0
    stop = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def payer(k: int, token: str) -> None:
            nonlocal done
            n = 0
            while time.perf_counter() < stop:
                r = await client.post(
                    "/api/v1/payments",
                    headers={"Authorization": f"Bearer {token}"},
                    json={
                        "merchant_id": merchant,
                        "amount_fen": PAYMENT_FEN,
                        "request_id": f"h{k}-{n}",
                    },
                )
                if r.status_code != 200:
                    raise RuntimeError(r.text)
                n += 1
                done += 1

        await asyncio.gather(*(payer(k, t) for k, t in enumerate(tokens[:8])))
    return done


def _wrk_load(
    base: str, tokens: list[str], merchant: str, seconds: float, *, warm_up: bool = False
) -> tuple[float, dict[str, Any]]:
    """wrk for ``seconds``; every request must pay (``warm_up``: nothing is checked, as after
    a restart each payer's first payment reads its history, which can take wrk's 2 s)."""
    wrk = shutil.which("wrk")
    assert wrk is not None
    with tempfile.NamedTemporaryFile("w", suffix=".tokens", delete=False) as f:
        f.write("\n".join(tokens) + "\n")
    out = subprocess.run(
        [
            wrk,
            "-t2",
            f"-c{len(tokens)}",
            f"-d{int(seconds)}s",
            "-s",
            str(ROOT / "bench/pay.lua"),
            base,
        ],
        env={
            **os.environ,
            "QB_TOKENS": f.name,
            "QB_MERCHANT": merchant,
            "QB_RUN": uuid.uuid4().hex[:8],  # this run's own request ids, never replays
        },
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    os.unlink(f.name)
    stats = json.loads(out.strip().splitlines()[-1])
    failed = sum(stats[k] for k in ("non2xx", "connect", "read", "write", "timeout"))
    if not warm_up and (failed or stats["payments"] != stats["requests"]):
        raise SystemExit(f"not every HTTP request was a payment: {stats}")
    return float(stats["payments"]) / float(stats["seconds"]), stats


def over_http(
    p: Platform, users: list[str], merchant: str, seconds: float, env: dict[str, str]
) -> tuple[float, dict[str, Any]]:
    """Serve with uvicorn in its own process; load it over loopback with wrk (or Python)."""
    tokens = [
        members.login(p, members.get_user(p, u)["phone"], LOGIN_PASSWORD)[0]
        for u in users[:HTTP_CONNECTIONS]
    ]
    p.close()
    port = 18000 + os.getpid() % 1000
    log_path = Path(env["QIANBAO_DATA_DIR"]) / "server.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "qianbao.cli", "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=log_path.open("w"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(200):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        if shutil.which("wrk"):
            try:
                _wrk_load(base, tokens, merchant, 1, warm_up=True)  # not counted
                return _wrk_load(base, tokens, merchant, seconds)
            except SystemExit:
                errors = [x for x in log_path.read_text().splitlines() if " 200 " not in x]
                print("\n".join(errors[-20:]), file=sys.stderr)
                raise
        start = time.perf_counter()
        done = asyncio.run(_python_load(base, tokens, merchant, seconds))
        return done / (time.perf_counter() - start), {}
    finally:
        server.terminate()
        server.wait(timeout=30)


def settings_env(s: Settings) -> dict[str, str]:
    env = {
        "QIANBAO_DATA_DIR": str(s.data_dir),
        "QIANBAO_PASSWORD_TIME_COST": "1",
        "QIANBAO_PASSWORD_MEMORY_KIB": "1024",
    }
    if s.unit_urls:
        env |= {"QIANBAO_GLOBAL_URL": s.global_url, "QIANBAO_UNIT_URLS": ",".join(s.unit_urls)}
    return env


def run_engine(
    pg_url: str | None,
    seconds: float,
    payers: int,
    http: bool,
    trades: int = 0,
    huabei_payers: int = 0,
) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="qb-bench-"))
    settings = bench_settings(tmp, pg_url)
    p = open_platform(settings)
    users, merchant = populate(p, payers)
    rate, latency = inprocess_async(p, users, merchant, seconds)
    result: dict[str, Any] = {
        "inprocess": rate,
        "inprocess_latency": latency,
        "inprocess_threads": inprocess(p, users, merchant, seconds),
        # below saturation: latency at half and at 80 % of the closed-loop rate just measured
        "inprocess_open_loop": [
            open_loop(p, users, merchant, rate * share, seconds) for share in (0.5, 0.8)
        ],
    }
    if huabei_payers:
        result["huabei"] = huabei(p, users[:huabei_payers], merchant, seconds)
    if trades:
        from bench.trades_scenario import run_scenario

        reference, trade, pay_only = run_scenario(p, trades, threads=32)
        result["trade_reference"] = reference["per_second"]
        result["trade"] = trade["per_second"]
        result["trade_pay_only"] = pay_only["per_second"]
    p.relay.drain()
    from qianbao.ledger.service import check_platform

    check = check_platform(p)
    if not check.ok or check.in_transit_fen:
        raise SystemExit(f"ledger check failed after the benchmark: {check}")
    if http:
        result["http"], stats = over_http(p, users, merchant, seconds, settings_env(settings))
        result["http_latency"] = {k: stats.get(k) for k in ("p50_ms", "p99_ms", "max_ms")}
    else:
        p.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return result


def run_part(part: str, seconds: float, payers: int, trades: int) -> None:
    """One part of the benchmark alone (``--only``), for before/after runs of a change."""
    load = os.getloadavg()
    if part == "trades":
        from bench.trades_scenario import run_scenario

        tmp = Path(tempfile.mkdtemp(prefix="qb-bench-"))
        p = open_platform(bench_settings(tmp, None))
        reference, trade, pay_only = run_scenario(p, trades, threads=32)
        p.close()
        shutil.rmtree(tmp, ignore_errors=True)
        rows = {
            "instant_per_s": reference["per_second"],
            "trade_per_s": trade["per_second"],
            "trade_pay_only_per_s": pay_only["per_second"],
            "trade_vs_instant": round(trade["per_second"] / reference["per_second"], 2),
            "pay_only_vs_instant": round(pay_only["per_second"] / reference["per_second"], 2),
        }
    else:
        pg_url = os.environ["QIANBAO_TEST_PG_URL"]
        tpcb = pgbench_tps(pg_url, int(seconds), clients=16) or 0.0
        tmp = Path(tempfile.mkdtemp(prefix="qb-bench-"))
        p = open_platform(bench_settings(tmp, pg_url))
        users, merchant = populate(p, payers)
        rate, latency = inprocess_async(p, users, merchant, seconds)
        p.close()
        _pg_drop_created(pg_url)
        shutil.rmtree(tmp, ignore_errors=True)
        rows = {"pgbench_tpcb_tps": round(tpcb), "inprocess_postgres_per_s": round(rate)}
        rows |= {"vs_tpcb": round(rate / tpcb, 2) if tpcb else 0.0, **latency}
    console.print({**rows, "load_average": [load, os.getloadavg()]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--payers", type=int, default=256)
    parser.add_argument("--trades", type=int, default=3000, help="trades in the trade scenario")
    parser.add_argument("--huabei-payers", type=int, default=64, help="payers with Huabei")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/payments.json")
    parser.add_argument(
        "--only",
        choices=("pg", "trades"),
        help="run one part and print it (writes nothing): pg = pgbench TPC-B and the in-process"
        " PostgreSQL payments; trades = the trade scenario on SQLite",
    )
    args = parser.parse_args()
    if args.only:
        run_part(args.only, args.seconds, args.payers, args.trades)
        return
    pg_url = os.environ.get("QIANBAO_TEST_PG_URL")
    load_at_start = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="qb-ref-"))
    with console.status("reference: bare sqlite3 loop"):
        bare_each = bare_sqlite(tmp / "a.db", args.seconds / 2, 1)
        bare_1000 = bare_sqlite(tmp / "b.db", args.seconds / 2, 1000)
    with console.status("Qianbao on SQLite (in-process, then HTTP)"):
        sqlite_r = run_engine(
            None,
            args.seconds,
            args.payers,
            http=True,
            trades=args.trades,
            huabei_payers=args.huabei_payers,
        )
    pg_r: dict[str, Any] = {}
    tpcb = None
    if pg_url:
        with console.status("pgbench TPC-B"):
            tpcb = pgbench_tps(pg_url, int(args.seconds), clients=16)
        with console.status("Qianbao on PostgreSQL (in-process, then HTTP)"):
            pg_r = run_engine(pg_url, args.seconds, args.payers, http=True)
        _pg_drop_created(pg_url)
    results = {
        "inprocess_sqlite_payments_per_s": round(sqlite_r["inprocess"]),
        "http_sqlite_payments_per_s": round(sqlite_r["http"]),
        "inprocess_sqlite_threads_payments_per_s": round(sqlite_r["inprocess_threads"]),
        "inprocess_postgres_payments_per_s": round(pg_r["inprocess"]) if pg_r else None,
        "http_postgres_payments_per_s": round(pg_r["http"]) if pg_r else None,
        "pgbench_tpcb_tps": round(tpcb) if tpcb else None,
        "inprocess_sqlite_trade_pays_per_s": round(sqlite_r["trade"]),
        "inprocess_sqlite_trade_reference_instant_per_s": round(sqlite_r["trade_reference"]),
        "inprocess_sqlite_trade_pay_only_per_s": round(sqlite_r["trade_pay_only"]),
        "reference_bare_sqlite_commit_each_per_s": round(bare_each),
        "reference_bare_sqlite_commit_1000_per_s": round(bare_1000),
        "inprocess_sqlite_huabei_payments_per_s": round(sqlite_r["huabei"])
        if "huabei" in sqlite_r
        else None,
        "target_inprocess_sqlite_payments_per_s": TARGET_SQLITE_PER_S,
        "target_inprocess_sqlite_vs_bare_commit_1000": TARGET_VS_BARE_1000,
        "target_inprocess_postgres_vs_pgbench_tpcb": TARGET_VS_TPCB,
        "target_inprocess_p99_ms": TARGET_P99_MS,
        "machine": {
            **machine(),
            # 1/5/15-minute load averages: the machine is shared, so every figure is noisy
            "load_average_start": [round(x, 2) for x in load_at_start],
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
        },
        "settings": {
            "seconds": args.seconds,
            "payers": args.payers,
            "units": 2,
            "sqlite": "WAL, synchronous=FULL (every group commit fsyncs)",
            "postgres": "fsync=on, synchronous_commit=on, default wal settings",
            "writer_batch_max": Settings().writer_batch_max,
            "payment_fen": PAYMENT_FEN,
            "http": f"uvicorn, one process; wrk -t2 -c{HTTP_CONNECTIONS} (one user per connection)",
        },
    }
    results["inprocess_sqlite_latency_ms"] = sqlite_r["inprocess_latency"]
    results["inprocess_postgres_latency_ms"] = pg_r.get("inprocess_latency")
    results["inprocess_sqlite_latency_at_offered_load_ms"] = sqlite_r["inprocess_open_loop"]
    results["inprocess_postgres_latency_at_offered_load_ms"] = pg_r.get("inprocess_open_loop")
    results["http_sqlite_latency_ms"] = sqlite_r["http_latency"]
    results["http_postgres_latency_ms"] = pg_r.get("http_latency")
    results["ratios"] = {
        "inprocess_sqlite_vs_bare_commit_each": round(sqlite_r["inprocess"] / bare_each, 2),
        "inprocess_sqlite_vs_bare_commit_1000": round(sqlite_r["inprocess"] / bare_1000, 3),
        "inprocess_sqlite_vs_target_3833": round(sqlite_r["inprocess"] / 3833, 2),  # the old one
        "inprocess_sqlite_vs_target_20000": round(sqlite_r["inprocess"] / TARGET_SQLITE_PER_S, 2),
        "http_vs_inprocess_sqlite": round(sqlite_r["http"] / sqlite_r["inprocess"], 2),
        "trade_vs_instant_same_threads": round(sqlite_r["trade"] / sqlite_r["trade_reference"], 2),
        "trade_pay_only_vs_instant_same_threads": round(
            sqlite_r["trade_pay_only"] / sqlite_r["trade_reference"], 2
        ),
    }
    results["ratios"]["inprocess_postgres_vs_pgbench_tpcb"] = (
        round(pg_r["inprocess"] / tpcb, 2) if pg_r and tpcb else None
    )
    results["ratios"]["huabei_vs_instant_sqlite_threads"] = (
        round(sqlite_r["huabei"] / sqlite_r["inprocess_threads"], 2)
        if "huabei" in sqlite_r
        else None
    )
    table = Table(title="Qianbao payments benchmark (durable commits)")
    table.add_column("measure")
    table.add_column("per second", justify="right")
    for key, value in results.items():
        if isinstance(value, int | float) and value is not None:
            table.add_row(key, f"{value:,}")
    for key, value in results["ratios"].items():
        table.add_row(f"ratio {key}", f"{value}")
    for key in ("inprocess_sqlite_latency_ms", "inprocess_postgres_latency_ms"):
        if results.get(key):
            table.add_row(f"{key} p50 / p99", "{p50_ms} / {p99_ms}".format(**results[key]))
    for key in ("sqlite", "postgres"):
        for at in results.get(f"inprocess_{key}_latency_at_offered_load_ms") or []:
            shown = "{p50_ms} / {p99_ms}".format(**at)
            table.add_row(f"{key} p50 / p99 ms at {at['offered_per_s']:,}/s offered", shown)
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"written to {args.out}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
