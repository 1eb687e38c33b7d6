"""Aging (账龄) and provisions: receivables by days past due, and the reserve each bucket needs.

``age_portfolio`` is the arithmetic of the day-end provision: ``dayend`` reads the receivables
grouped by ``overdue_days``, calls it, and books the change of the reserve.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from qianbao.credit.schedule import bucket_index
from qianbao.platform.money import apply_rate, fen_to_yuan


@dataclass(frozen=True)
class AgedGroup:
    """Accounts that are ``overdue_days`` past due and what they owe in all."""

    overdue_days: int
    accounts: int
    owed_fen: int


@dataclass(frozen=True)
class Aging:
    names: tuple[str, ...]  # bucket names, e.g. current, 1-30, ...
    receivables_fen: tuple[int, ...]  # per bucket
    provision_fen: tuple[int, ...]  # per bucket: its rate of its receivables, half-up
    accounts: int
    overdue_accounts: int
    overdue_fen: int

    @property
    def total_receivables_fen(self) -> int:
        return sum(self.receivables_fen)

    @property
    def total_provision_fen(self) -> int:
        return sum(self.provision_fen)

    def format(self) -> str:
        rows = [f"{'bucket':<10} {'receivables':>14} {'provision':>12}"]
        for name, owed, reserve in zip(
            self.names, self.receivables_fen, self.provision_fen, strict=True
        ):
            rows.append(f"{name:<10} {fen_to_yuan(owed):>14} {fen_to_yuan(reserve):>12}")
        rows.append(
            f"{'total':<10} {fen_to_yuan(self.total_receivables_fen):>14}"
            f" {fen_to_yuan(self.total_provision_fen):>12}"
        )
        rows.append(
            f"{self.accounts} accounts, {self.overdue_accounts} overdue owing"
            f" {fen_to_yuan(self.overdue_fen)}"
        )
        return "\n".join(rows)

    def __str__(self) -> str:
        return self.format()


def age_portfolio(
    groups: Iterable[AgedGroup],
    *,
    bounds_days: Sequence[int],
    rates: Sequence[Decimal],
    names: Sequence[str] | None = None,
) -> Aging:
    """Put each group's receivables in its bucket (``schedule.bucket_index``) and reserve each
    bucket's rate of them. ``rates`` has one rate per bucket (``len(bounds_days) + 1``)."""
    assert len(rates) == len(bounds_days) + 1, (rates, bounds_days)
    buckets = [0] * len(rates)
    accounts = overdue_accounts = overdue_fen = 0
    for g in groups:
        buckets[bucket_index(g.overdue_days, tuple(bounds_days))] += g.owed_fen
        accounts += g.accounts
        if g.overdue_days > 0:
            overdue_accounts += g.accounts
            overdue_fen += g.owed_fen
    return Aging(
        names=tuple(names) if names else tuple(str(i) for i in range(len(rates))),
        receivables_fen=tuple(buckets),
        provision_fen=tuple(apply_rate(b, r) for b, r in zip(buckets, rates, strict=True)),
        accounts=accounts,
        overdue_accounts=overdue_accounts,
        overdue_fen=overdue_fen,
    )
