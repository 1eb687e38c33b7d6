"""Risk decisions: in-process latency of one decision with every rule and the model on, and the
payment path's throughput with risk on, as a ratio to the same run with risk off.

    python bench/risk.py [--seconds 8] [--payers 256] [--decisions 20000]

1. Decision latency: a simulated population's history (the fraud simulator, 7 days of warm-up)
   fills one unit's counters; then every movement of the next day is decided by the function the
   unit writer calls (``risk.decide.decide``: features, every rule of ``risk/rules.yaml``, the
   model) and committed to the counters, each timed alone.
2. Payments with risk on / off: the in-process asyncio payment run of ``bench/payments.py`` on
   SQLite (durable group commits), each payer with its own device and IP, twice — risk wired
   (every decision computed, stored in the batch, counted) and risk left out. The bench merchant
   is on the allow list, so the outcome is PASS while every rule and the model still run: the
   payers pay hundreds of times a minute, which the velocity rules would rightly challenge.

Prints one table and writes bench/results/risk.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.payments import PAYMENT_FEN, bench_settings, latency_ms, machine, populate

from qianbao.bootstrap import open_platform
from qianbao.money_movement.context import RequestContext, use
from qianbao.payments import service as payments
from qianbao.platform.runtime import Platform
from qianbao.risk import model as risk_model
from qianbao.risk import rules as risk_rules
from qianbao.risk import service as risk
from qianbao.risk import simulate
from qianbao.risk.counters import Counters
from qianbao.risk.decide import Lists, State, decide
from qianbao.risk.evaluate import _learn

console = Console()
TARGET_P99_MS = 1.0
TARGET_RATIO = 0.8


def decision_latency(decisions: int, users: int) -> dict[str, Any]:
    rs = risk_rules.load(risk_rules.DEFAULT_PATH)
    model = risk_model.load()
    world, events = simulate.generate(7, 1, users=users, warmup_days=7)
    state = State(Counters(rs.horizon_ms))
    lists = Lists(categories=dict(world.categories))
    history = [e for e in events if e.warmup]
    for i, e in enumerate(history):  # the history, decided and committed (not timed)
        d = decide(
            rs,
            model,
            state,
            None,
            lists,
            replace(e.movement, movement_id=str(i)),
            e.context,
            e.at_ms,
        )
        state.counters.add(d.event)
        _learn(state, e.movement.party_id, e)
    timed = [e for e in events if not e.warmup][:decisions]
    half = len(timed) // 2
    live = _timed(rs, model, state, lists, timed[:half])  # the garbage collector as it comes
    gc.collect()
    gc.freeze()  # the history is old: a long-running writer's old objects are rarely scanned
    latencies_s = _timed(rs, model, state, lists, timed[half:])
    gc.unfreeze()
    return {
        "decisions": len(timed),
        "history_events": len(history),
        "decisions_per_s": round(len(latencies_s) / sum(latencies_s)),
        **latency_ms(latencies_s),
        "gc_live": {"decisions_per_s": round(len(live) / sum(live)), **latency_ms(live)},
        "rules": len(rs.rules),
        "rules_version": rs.version,
        "model": model.version,
        "model_trees": len(model.trees),
    }


def _timed(rs: Any, model: Any, state: State, lists: Lists, events: list[Any]) -> list[float]:
    latencies_s: list[float] = []
    for i, e in enumerate(events):
        m = replace(e.movement, movement_id=f"t{i}")
        t0 = time.perf_counter()
        d = decide(rs, model, state, None, lists, m, e.context, e.at_ms)
        state.counters.add(d.event)
        latencies_s.append(time.perf_counter() - t0)
        _learn(state, m.party_id, e)
    return latencies_s


async def _drive(
    p: Platform, users: list[str], merchant: str, seconds: float
) -> tuple[int, list[float]]:
    stop = time.perf_counter() + seconds
    run = uuid.uuid4().hex[:8]
    latencies_s: list[float] = []

    async def payer(k: int, user: str) -> int:
        n = 0
        rc = RequestContext(
            device_id=f"bench-device-{k}", ip=f"10.{k // 250}.{k % 250}.7", user_agent="bench/1"
        )
        with use(rc):
            while (started := time.perf_counter()) < stop:
                await payments.pay_merchant_async(p, user, merchant, PAYMENT_FEN, f"{run}-{n}")
                latencies_s.append(time.perf_counter() - started)
                n += 1
        return n

    done = sum(await asyncio.gather(*(payer(k, u) for k, u in enumerate(users))))
    return done, latencies_s


def payments_per_s(on: bool, seconds: float, payers: int) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix=f"qb-risk-{'on' if on else 'off'}-"))
    settings = bench_settings(data, None)
    settings.extra["risk"] = {"enabled": on}
    p = open_platform(settings)
    try:
        users, merchant = populate(p, payers)
        if on:
            risk.put_list_entry(p, "allow", "merchant", merchant, "benchmark merchant", "bench")
        asyncio.run(_drive(p, users, merchant, 2.0))  # warm-up
        started = time.perf_counter()
        done, latencies_s = asyncio.run(_drive(p, users, merchant, seconds))
        rate = done / (time.perf_counter() - started)
        decided = sum(len(risk.decisions(p, party_id=u)) for u in users[:8]) if on else 0
        return {
            "payments_per_s": round(rate),
            **latency_ms(latencies_s),
            "decisions_of_8_payers": decided,
        }
    finally:
        p.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--payers", type=int, default=256)
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=2000, help="simulated population")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/risk.json")
    args = parser.parse_args()
    with console.status("decision latency (simulated history, then one day timed)"):
        lat = decision_latency(args.decisions, args.users)
    with console.status("payments, risk off"):
        off = payments_per_s(False, args.seconds, args.payers)
    with console.status("payments, risk on"):
        on = payments_per_s(True, args.seconds, args.payers)
    ratio = round(on["payments_per_s"] / off["payments_per_s"], 3) if off["payments_per_s"] else 0
    results = {
        "decisions_per_s": lat["decisions_per_s"],
        "p50_ms": lat["p50_ms"],
        "p99_ms": lat["p99_ms"],
        "max_ms": lat["max_ms"],
        "rules": lat["rules"],
        "model": lat["model"],
        "machine": {**machine(), "load_average_at_start": os.getloadavg()[0]},
        "decision": lat,
        "payments_risk_off": off,
        "payments_risk_on": on,
        "payments_ratio_on_vs_off": ratio,
        "target_p99_ms": TARGET_P99_MS,
        "target_ratio": TARGET_RATIO,
        "settings": {
            "seconds": args.seconds,
            "payers": args.payers,
            "engine": "sqlite",
            "payment_fen": PAYMENT_FEN,
            "units": 2,
        },
    }
    table = Table("measure", "value", "target")
    table.add_row("decisions/s (one thread)", str(lat["decisions_per_s"]), "")
    table.add_row("decision p50 ms", str(lat["p50_ms"]), "")
    table.add_row("decision p99 ms", str(lat["p99_ms"]), f"<= {TARGET_P99_MS}")
    table.add_row("decision p99 ms (gc live)", str(lat["gc_live"]["p99_ms"]), "")
    table.add_row("rules / model", f"{lat['rules']} / {lat['model']}", "")
    table.add_row("payments/s risk off", str(off["payments_per_s"]), "")
    table.add_row("payments/s risk on", str(on["payments_per_s"]), "")
    table.add_row("ratio on / off", str(ratio), f">= {TARGET_RATIO}")
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
