"""Red packet claims per second (抢红包), in process on SQLite, beside a reference measured in the
same run: wallet transfers between the same users (the platform's simplest money command).

    python bench/redpackets.py [--packets 20] [--shares 200] [--threads 32]

Every claim is a full claim: membership check, a command in the sender's unit (guarded pop of
the next share, the packet's counters, one voucher; a claimer in the other unit gets an
in-transit leg and an outbox message, credited by the relay). Durable commits (WAL,
synchronous=FULL). Prints one table and writes bench/results/redpackets.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.factories import new_user  # noqa: E402

from qianbao.bootstrap import open_platform  # noqa: E402
from qianbao.ledger.service import check_platform  # noqa: E402
from qianbao.payments import service as payments  # noqa: E402
from qianbao.platform.settings import Settings  # noqa: E402
from qianbao.redpackets import claims  # noqa: E402
from qianbao.redpackets import service as redpackets  # noqa: E402

console = Console()


def _run(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    settings = Settings(data_dir=data_dir, password_time_cost=1, password_memory_kib=1024)
    settings = settings.with_(extra={"redpackets": {"day_max_fen": 10**12}})
    p = open_platform(settings)
    try:
        sender = new_user(p, balance_fen=5_000_000)
        crowd = [
            new_user(p, unit=i % 2, balance_fen=10_000, password_free_fen=10_000)
            for i in range(args.shares)
        ]
        group = redpackets.create_group(p, sender, "bench", crowd)["group_id"]
        packets = [
            redpackets.send(
                p, sender, kind="RANDOM", amount_fen=args.shares * 100, shares=args.shares,
                group_id=group, request_id=f"bench-{n}", pay_password="135790",
            )["packet_id"]
            for n in range(args.packets)
        ]  # fmt: skip
        jobs = [(packet, user) for packet in packets for user in crowd]
        with ThreadPoolExecutor(args.threads) as pool:
            start = time.perf_counter()
            won = sum(1 for r in pool.map(lambda j: claims.claim(p, *j), jobs) if r)
            claim_s = time.perf_counter() - start
        n = len(crowd)
        transfers = [(crowd[i % n], crowd[(i + 1) % n], i) for i in range(len(jobs))]
        with ThreadPoolExecutor(args.threads) as pool:
            start = time.perf_counter()
            list(
                pool.map(lambda t: payments.transfer(p, t[0], t[1], 1, f"t{t[2]}", None), transfers)
            )
            transfer_s = time.perf_counter() - start
        p.relay.drain()
        check = check_platform(p)
        assert check.ok and check.in_transit_fen == 0, check.units
        return {
            "claims": won,
            "claims_per_s": round(won / claim_s),
            "transfers": len(transfers),
            "transfers_per_s": round(len(transfers) / transfer_s),
            "ratio_to_transfers": round((won / claim_s) / (len(transfers) / transfer_s), 2),
            "ledger_clean": True,
        }
    finally:
        p.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packets", type=int, default=20)
    parser.add_argument("--shares", type=int, default=200)
    parser.add_argument("--threads", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = _run(args, Path(tmp))
    result["machine"] = f"{host.machine()} {os.cpu_count()} cpu, Python {host.python_version()}"
    table = Table("measure", "value", title="red packet claims (SQLite, in process)")
    for key, value in result.items():
        table.add_row(key, str(value))
    console.print(table)
    out = ROOT / "bench" / "results" / "redpackets.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
