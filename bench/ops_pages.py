"""The back office's pages and plots: how long an operator waits, beside ``/healthz`` (the
reference: the same app, the same client, no work) measured in the same run.

    python bench/ops_pages.py [--users 300] [--payments 3000] [--rounds 20]

Builds a platform with USERS users paying one merchant PAYMENTS times over the last 30 minutes
(and a closed day), signs
in an admin, then times each page ROUNDS times through the app in process (TestClient: no
network): the user look-up, the books (ledger check cached, trial balance), dead messages, the
audit log, and each plot drawn afresh (cache cleared) and from the cache. Prints one table and
writes bench/results/ops_pages.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.payments import machine
from tests.factories import PAY_PASSWORD, new_user
from tests.ops.helpers import signed_in
from tests.trades.helpers import new_merchant

from qianbao.bootstrap import open_platform
from qianbao.ledger import closing
from qianbao.members import service as members
from qianbao.payments import service as payments
from qianbao.platform.clock import clock
from qianbao.platform.settings import Settings
from qianbao.server import build_app

console = Console()
PLOTS = ("payments", "latency", "huabei", "reconciliation", "scores")


def _times_ms(
    call: Callable[[], Any], rounds: int, before: Callable[[], None] | None = None
) -> list[float]:
    out = []
    for _ in range(rounds):
        if before:
            before()
        t = time.perf_counter()
        answer = call()
        out.append((time.perf_counter() - t) * 1000)
        assert answer.status_code == 200, answer.text[:300]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--payments", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="qb-ops-bench-"))
    p = open_platform(Settings(data_dir=data, password_time_cost=1, password_memory_kib=1024))
    try:
        m = new_merchant(p)
        users = [new_user(p, balance_fen=1_000_00) for _ in range(args.users)]
        start, step_ms = clock.now() - timedelta(minutes=30), 30 * 60_000 / args.payments
        for i in range(args.payments):  # spread over the last 30 minutes (under risk's bursts)
            clock.set(start + timedelta(milliseconds=i * step_ms))
            payments.pay_merchant(p, users[i % len(users)], m, 1_00 + i % 50, f"b{i}", PAY_PASSWORD)
        clock.use_real_time()
        p.relay.drain()
        closing.close_day(p, clock.today() - timedelta(days=1))
        app = build_app(p)
        c, _ = signed_in(p, "admin", app)
        phone = members.get_user(p, users[0])["phone"]
        clear = lambda: setattr(app.state, "plot_cache", {})  # noqa: E731
        cases: dict[str, tuple[Callable[[], Any], Callable[[], None] | None]] = {
            "reference GET /healthz": (lambda: c.get("/healthz"), None),
            "GET /ops": (lambda: c.get("/ops"), None),
            "GET /ops/users?q=<phone>": (lambda: c.get("/ops/users", params={"q": phone}), None),
            "GET /ops/books (trial balance of today-1)": (lambda: c.get("/ops/books"), None),
            "GET /ops/messages": (lambda: c.get("/ops/messages"), None),
            "GET /ops/audit": (lambda: c.get("/ops/audit"), None),
        }
        for name in PLOTS:
            cases[f"plot {name} drawn"] = (lambda n=name: c.get(f"/ops/plots/{n}.svg"), clear)
            cases[f"plot {name} cached"] = (lambda n=name: c.get(f"/ops/plots/{n}.svg"), None)
        sales = lambda: c.get("/ops/plots/merchant-sales.svg", params={"merchant": m})  # noqa: E731
        cases["plot merchant-sales drawn"] = (sales, clear)
        rows = []
        for label, (call, before) in cases.items():
            ms = sorted(_times_ms(call, args.rounds, before))
            rows.append({"case": label, "p50_ms": statistics.median(ms), "max_ms": ms[-1]})
    finally:
        p.close()
        shutil.rmtree(data, ignore_errors=True)
    reference = rows[0]["p50_ms"]
    table = Table(title=f"back office pages ({args.users} users, {args.payments} payments)")
    for col in ("case", "p50 ms", "max ms", "× reference"):
        table.add_column(col)
    for r in rows:
        r["x_reference"] = r["p50_ms"] / reference
        table.add_row(
            r["case"], f"{r['p50_ms']:.1f}", f"{r['max_ms']:.1f}", f"{r['x_reference']:.1f}"
        )
    console.print(table)
    out = ROOT / "bench" / "results" / "ops_pages.json"
    result = {"machine": machine(), "args": vars(args), "rows": rows}
    out.write_text(json.dumps(result, indent=1) + "\n")
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
