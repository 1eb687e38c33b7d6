"""Payment limits by KYC level: per transaction and per business day (later risk work extends).

The daily total is one guarded upsert, counted in the payment's own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from qianbao.money_movement.errors import DailyLimitExceeded, SingleLimitExceeded
from qianbao.platform.clock import clock
from qianbao.platform.writer import WriteContext


@dataclass(frozen=True)
class Limits:
    per_payment_fen: int
    per_day_fen: int


# Level 1: ID checked only; level 2: a bank card verified the name; level 3: enhanced review.
LIMITS_BY_KYC = {
    1: Limits(per_payment_fen=200_000, per_day_fen=500_000),
    2: Limits(per_payment_fen=5_000_000, per_day_fen=20_000_000),
    3: Limits(per_payment_fen=20_000_000, per_day_fen=100_000_000),
}


def check_per_payment(kyc_level: int, amount_fen: int) -> Limits:
    limits = LIMITS_BY_KYC[kyc_level]
    if amount_fen > limits.per_payment_fen:
        raise SingleLimitExceeded(
            f"amount exceeds the per-payment limit of {limits.per_payment_fen} fen for KYC level"
            f" {kyc_level}"
        )
    return limits


def count_daily(ctx: WriteContext, owner_id: str, amount_fen: int, limits: Limits) -> None:
    if not ctx.tx.execute(
        "INSERT INTO daily_spend (owner_id, day, spent_fen) VALUES (:o, :d, :a)"
        " ON CONFLICT (owner_id, day) DO UPDATE SET spent_fen = daily_spend.spent_fen + :a"
        " WHERE daily_spend.spent_fen + :a <= :limit",
        {
            "o": owner_id,
            "d": clock.today().isoformat(),
            "a": amount_fen,
            "limit": limits.per_day_fen,
        },
    ):
        raise DailyLimitExceeded(f"daily limit of {limits.per_day_fen} fen reached")
