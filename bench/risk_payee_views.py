"""What a payee view costs a transfer's features (ADR 0621), in one process: the same payee's
transfers all in the payer's unit (one unit), split between the unit's counters and the home
unit's view, and the unit's counters alone (no view), in alternating rounds of one run.

    python bench/risk_payee_views.py
"""

from __future__ import annotations

import os
import statistics
import time

from qianbao.risk import features
from qianbao.risk.counters import Counters, Event, Look
from qianbao.risk.features import DAY_MS, Known, PayeeView, Payer

T_MS = 1_800_000_000_000
ROUNDS, CALLS = 7, 3000


def layouts(here: int, there: int) -> dict[str, tuple[Counters, PayeeView | None]]:
    """``here`` transfers to the payee from 7 payers of this unit, ``there`` from 30 of another."""
    moves = [
        Event(
            T_MS - i * 600_000,
            1000 + i,
            "TRANSFER",
            f"p{i % 7}" if i < here else f"q{i % 30}",
            "payee",
            "d",
            "ip",
            "",
        )
        for i in range(here + there)
    ]
    alone, split = Counters(8 * DAY_MS), Counters(8 * DAY_MS)
    for e in sorted(moves):
        alone.add(e)
        if e.user.startswith("p"):
            split.add(e)
    far = sorted(e for e in moves if e.user.startswith("q"))
    view = PayeeView(
        T_MS - 60_000, len(far), tuple(Payer(e.at_ms, e.user, T_MS - 5 * DAY_MS) for e in far)
    )
    return {
        "one unit": (alone, None),
        "counters + view": (split, view),
        "counters only": (split, None),
    }


def first_paid(user: str, payee: str) -> int:
    return T_MS - (2 if user.startswith("p") else 5) * DAY_MS


def per_call_us(counters: Counters, view: PayeeView | None) -> float:
    e = Event(T_MS, 5000, "TRANSFER", "me", "payee", "d", "ip", "")
    known = Known(True, True, True, True, T_MS - 3 * DAY_MS)
    started = time.perf_counter()
    for _ in range(CALLS):
        features.compute(Look(counters, T_MS), e, "BALANCE", known, "", first_paid, view)
    return (time.perf_counter() - started) / CALLS * 1e6


def main() -> None:
    for here, there in ((3, 2), (20, 44)):
        cases = layouts(here, there)
        runs: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(ROUNDS):
            for name, (counters, view) in cases.items():
                runs[name].append(per_call_us(counters, view))
        medians = {name: round(statistics.median(v), 1) for name, v in runs.items()}
        print(
            f"{here} + {there} transfers: {medians} us (median of {ROUNDS}),"
            f" load {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
