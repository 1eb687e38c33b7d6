"""Yu'e Bao's income arithmetic (pure): 万份收益 to each holder, the remainder, the yield."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

E8 = 100_000_000  # 万份收益_e4 (CNY per 10,000 × 10^4) ÷ 10,000 shares: fen = shares × e4 ÷ 10^8
YIELD_DAYS = 7


def income_fen(shares_fen: int, per_10k_e4: int) -> int:
    """A holding's income of one day, rounded down to the fen (ADR 0701)."""
    assert shares_fen >= 0 and per_10k_e4 >= 0
    return shares_fen * per_10k_e4 // E8


def split_income(
    holdings: Mapping[str, int], per_10k_e4: int, pool_fen: int
) -> tuple[dict[str, int], int]:
    """Each holder's income (only the non-zero ones) and what stays retained: the fund's
    ``pool_fen`` on the omnibus account less the holders' rounded incomes (never negative
    while the holders hold no more than the account)."""
    paid = {k: fen for k, s in holdings.items() if (fen := income_fen(s, per_10k_e4)) > 0}
    retained = pool_fen - sum(paid.values())
    if retained < 0:
        raise AssertionError(f"holders' income exceeds the fund's {pool_fen} fen")
    return paid, retained


def seven_day_percent(per_10k_e4: list[int]) -> str | None:
    """七日年化: the mean of 7 days' 万份收益 ÷ 10,000 × 365, in percent with 3 decimals
    (half-up); None without 7 days."""
    if len(per_10k_e4) != YIELD_DAYS:
        return None
    percent = Decimal(sum(per_10k_e4)) / YIELD_DAYS / 10**8 * 365 * 100
    return str(percent.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))
