"""What the synchronous standby costs a commit: the same small transactions (idempotency row,
guarded debit, credit) on a unit primary with a synchronous standby (``synchronous_commit =
on``, ADR 0930) and on the shared server without one, measured in the same run.

    python bench/replication.py [--commits 400] [--threads 1,8]

Needs PostgreSQL binaries and ``QIANBAO_TEST_PG_URL`` (the reference server; the pair takes
its next two ports). Prints a table and writes bench/results/replication.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg

from qianbao.cluster import replication, store
from qianbao.cluster.local import Layout, pg_bin

SETUP = (
    "CREATE TABLE IF NOT EXISTS bench_keys (k text PRIMARY KEY);"
    "CREATE TABLE IF NOT EXISTS bench_accounts (id int PRIMARY KEY, balance_fen bigint);"
    "INSERT INTO bench_accounts VALUES (1, 1000000000), (2, 0) ON CONFLICT DO NOTHING"
)


def _commit(conn: psycopg.Connection[Any]) -> None:
    with conn.transaction():
        conn.execute("INSERT INTO bench_keys VALUES (%s)", (uuid.uuid4().hex,))
        conn.execute(
            "UPDATE bench_accounts SET balance_fen = balance_fen - 1 WHERE id = 1"
            " AND balance_fen >= 1"
        )
        conn.execute("UPDATE bench_accounts SET balance_fen = balance_fen + 1 WHERE id = 2")


def measure(url: str, commits: int, threads: int) -> dict[str, float]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SETUP)
    latencies: list[float] = []
    lock = threading.Lock()

    def run() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            mine = []
            for _ in range(commits // threads):
                started = time.perf_counter()
                _commit(conn)
                mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    took_s = time.perf_counter() - started
    latencies.sort()
    return {
        "commits_per_s": round(len(latencies) / took_s, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=400)
    parser.add_argument("--threads", default="1,8")
    args = parser.parse_args()
    reference = os.environ["QIANBAO_TEST_PG_URL"]
    pg = pg_bin()
    assert pg is not None, "PostgreSQL binaries are needed"
    root = Path(tempfile.mkdtemp(prefix="qb-bench-repl-"))
    root.chmod(0o755)
    port = urlsplit(reference).port or 5432
    layout = Layout(root=root, pg_port=port, replicated_units=[0], db_prefix="qbbench_")
    rows: list[dict[str, Any]] = []
    try:
        replication.start_pair(layout, pg, 0, print)
        paired = layout.unit_url(0)
        store.create_databases(reference, ["qbbench_ref"])
        plain = reference.rsplit("/", 1)[0] + "/qbbench_ref"
        for threads in (int(t) for t in args.threads.split(",")):
            for name, url in (("no standby", plain), ("synchronous standby", paired)):
                rows.append(
                    {"server": name, "threads": threads, **measure(url, args.commits, threads)}
                )
    finally:
        for slot in replication.SLOTS:
            data = replication.slot_data(layout, 0, slot)
            replication.stop_server(
                pg, data, layout.host, replication.slot_port(layout, 0, slot), mode="immediate"
            )
        shutil.rmtree(root, ignore_errors=True)
        with psycopg.connect(reference, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS qbbench_ref WITH (FORCE)")
    print(f"{'server':<22}{'threads':>8}{'commits/s':>12}{'p50 ms':>9}{'p99 ms':>9}")
    for row in rows:
        print(
            f"{row['server']:<22}{row['threads']:>8}{row['commits_per_s']:>12}"
            f"{row['p50_ms']:>9}{row['p99_ms']:>9}"
        )
    out = Path(__file__).parent / "results" / "replication.json"
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_avg_1m": os.getloadavg()[0],
    }
    out.write_text(
        json.dumps({"rows": rows, "machine": machine, "commits": args.commits}, indent=2)
    )
    print(f"written {out}")


if __name__ == "__main__":
    main()
