"""Risk decisions: in-process latency of one decision with every rule and the model on, and the
payment path's throughput with risk on, as a ratio to the same run with risk off.

    python bench/risk.py [--seconds 8] [--payers 256] [--decisions 20000]

1. Decision latency: a simulated population's history (the fraud simulator, 7 days of warm-up)
   fills one unit's counters; then every movement of the next day is decided by the function the
   unit writer calls (``risk.decide.decide``: features, every rule of ``risk/rules.yaml``, the
   model) and committed to the counters, each timed alone.
2. Payments with risk on / off: the in-process asyncio payment run of ``bench/payments.py`` on
   SQLite (durable group commits), each payer with its own device and IP, on two platforms —
   risk wired (every decision computed, stored in the batch, counted) and risk left out —
   driven in alternating rounds, so that both see the same load of a shared machine; the CPU
   time per payment of each is reported too. The bench merchant is on the allow list, so the
   outcome is PASS while every rule and the model still run: the payers pay hundreds of times a
   minute, which the velocity rules would rightly challenge. A refused payment stops the bench.

Prints one table and writes bench/results/risk.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
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

from bench.payments import (
    PAYMENT_FEN,
    bench_settings,
    latency_ms,
    machine,
    payer_context,
    populate,
)

from qianbao.bootstrap import open_platform
from qianbao.money_movement.context import use
from qianbao.payments import service as payments
from qianbao.platform.runtime import Platform
from qianbao.risk import model as risk_model
from qianbao.risk import rules as risk_rules
from qianbao.risk import service as risk
from qianbao.risk import simulate
from qianbao.risk.counters import Counters
from qianbao.risk.decide import Lists, State, decide
from qianbao.risk.errors import Held
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
        with use(payer_context(k)):
            while (started := time.perf_counter()) < stop:
                try:
                    await payments.pay_merchant_async(p, user, merchant, PAYMENT_FEN, f"{run}-{n}")
                except Held as exc:  # a refusal is not a payment: the figure would be wrong
                    raise SystemExit(
                        f"payment {n} of payer {k} was refused by risk control ({exc.code}:"
                        f" {exc}); the bench measures payments that pass every rule and the model"
                    ) from exc
                latencies_s.append(time.perf_counter() - started)
                n += 1
        return n

    done = sum(await asyncio.gather(*(payer(k, u) for k, u in enumerate(users))))
    return done, latencies_s


ROUNDS = 8  # risk off and on alternate, so both see the same load on a shared machine


def _open(on: bool, payers: int) -> tuple[Platform, list[str], str]:
    data = Path(tempfile.mkdtemp(prefix=f"qb-risk-{'on' if on else 'off'}-"))
    settings = bench_settings(data, None)
    settings.extra["risk"] = {"enabled": on}
    p = open_platform(settings)
    users, merchant = populate(p, payers)  # its merchant on the allow list, with risk on
    return p, users, merchant


def payments_on_and_off(seconds: float, payers: int) -> tuple[dict[str, Any], ...]:
    """Two platforms, risk off and risk on, driven in alternating rounds of ``seconds /
    ROUNDS`` (off first, then on first, ...): each payments/s, the process CPU time per
    payment, and the ratio on / off over all rounds and per round."""
    runs = {on: _open(on, payers) for on in (False, True)}
    try:
        for p, users, merchant in runs.values():
            asyncio.run(_drive(p, users, merchant, 2.0))  # warm-up
        totals: dict[bool, list[Any]] = {on: [0, 0.0, 0.0, []] for on in runs}
        ratios = []
        for r in range(ROUNDS):
            rates = {}
            for on in (False, True) if r % 2 == 0 else (True, False):
                p, users, merchant = runs[on]
                cpu, started = time.process_time(), time.perf_counter()
                done, latencies_s = asyncio.run(_drive(p, users, merchant, seconds / ROUNDS))
                elapsed = time.perf_counter() - started
                total = totals[on]
                total[0] += done
                total[1] += elapsed
                total[2] += time.process_time() - cpu
                total[3] += latencies_s
                rates[on] = done / elapsed
            ratios.append(round(rates[True] / rates[False], 3))
        out = []
        for on, (done, elapsed, cpu_s, latencies_s) in totals.items():
            p, users, _ = runs[on]
            decided = sum(len(risk.decisions(p, party_id=u)) for u in users[:8]) if on else 0
            out.append(
                {
                    "payments_per_s": round(done / elapsed),
                    "cpu_us_per_payment": round(cpu_s / done * 1e6, 1),
                    **latency_ms(latencies_s),
                    "decisions_of_8_payers": decided,
                }
            )
        return out[0], out[1], {"ratio_by_round": ratios}
    finally:
        for p, _, _ in runs.values():
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
    with console.status("payments, risk off and on in alternating rounds"):
        off, on, rounds = payments_on_and_off(args.seconds, args.payers)
    ratio = round(on["payments_per_s"] / off["payments_per_s"], 3) if off["payments_per_s"] else 0
    cpu_ratio = round(off["cpu_us_per_payment"] / on["cpu_us_per_payment"], 3)
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
        "payments_ratio_by_round": rounds["ratio_by_round"],
        "payments_ratio_median_of_rounds": round(statistics.median(rounds["ratio_by_round"]), 3),
        "cpu_per_payment_ratio_off_vs_on": cpu_ratio,
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
    table.add_row("ratio by round", " ".join(map(str, rounds["ratio_by_round"])), "")
    table.add_row(
        "CPU us / payment off, on",
        f"{off['cpu_us_per_payment']}, {on['cpu_us_per_payment']} ({cpu_ratio})",
        "",
    )
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
