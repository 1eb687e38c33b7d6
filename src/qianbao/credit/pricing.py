"""Pricing: the opening line, line rounding, the overdue interest tier and the installment fee
rates of a user — what a score or the user's own data make of them (docs/credit.md)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from qianbao.credit import ports
from qianbao.credit.config import CreditConfig, band_interest_rate
from qianbao.credit.errors import NotEligible
from qianbao.platform.db import Row, Tx
from qianbao.platform.money import apply_rate, round_fen


def round_line(cfg: CreditConfig, line_fen: int) -> int:
    line = line_fen - line_fen % cfg.line_round_fen
    return max(cfg.line_min_fen, min(cfg.line_max_fen, line))


AGE_FACTORS = (
    (21, Decimal("0.5")),
    (25, Decimal("0.8")),
    (55, Decimal("1.0")),
    (200, Decimal("0.7")),
)
KYC_BASE_FEN = {1: 100_000, 2: 300_000, 3: 800_000}


def initial_line(
    cfg: CreditConfig,
    *,
    age: int,
    kyc_level: int,
    tenure_days: int,
    cards: int,
    balance_fen: int,
    score: int | None = None,
) -> tuple[int, str]:
    """The opening line and why (docs/credit.md, "Initial line").

    With a credit score (``score_provider``): the initial line of the score's band in
    ``scoring.bands`` (a score in a band that is not eligible refuses the opening).
    Without one, from the user's own data: a base by KYC level, times an age factor, times a
    tenure factor, plus 20% of the wallet balance (at most 10,000 CNY) and 1,000 CNY per extra
    bound card (at most 2); whole hundreds, within the minimum and the everyday cap.
    """
    if score is not None:  # the scoring package's bands (configuration there)
        from qianbao.scoring.bands import score_band

        band = score_band(max(350, min(950, score)))
        if not band.eligible:
            raise NotEligible(f"credit score {score} ({band.name}) is below the Huabei bands")
        line = min(cfg.everyday_cap_fen, round_line(cfg, band.initial_line_fen))
        return line, f"score {score}, band {band.name}"
    base = KYC_BASE_FEN.get(kyc_level, KYC_BASE_FEN[1])
    age_factor = next(f for upper, f in AGE_FACTORS if age <= upper)
    tenure = Decimal("2.0") if tenure_days >= 365 else Decimal("1.5") if tenure_days >= 90 else 1
    wallet = min(apply_rate(max(balance_fen, 0), Decimal("0.2")), 1_000_000)
    extra_cards = 100_000 * min(2, max(0, cards - 1))
    raw = round_fen(Decimal(base) * age_factor * Decimal(tenure)) + wallet + extra_cards
    line = min(cfg.everyday_cap_fen, round_line(cfg, raw))
    return line, (
        f"kyc {kyc_level} base {base}, age {age} x{age_factor}, tenure {tenure_days}d"
        f" x{tenure}, wallet +{wallet}, cards +{extra_cards}"
    )


@dataclass(frozen=True)
class InterestTier:
    """The overdue interest tier of an account: its daily rate and what priced it."""

    rate: Decimal
    band: str  # the score band, "" without a score
    priced_by: str  # e.g. "bands-v1, score 712, card sc-…" or "default rate"

    def columns(self) -> dict[str, str]:
        return {
            "interest_rate": str(self.rate),
            "interest_band": self.band,
            "interest_priced_by": self.priced_by[:80],
        }


def interest_tier(cfg: CreditConfig, score: int | None, source: str = "") -> InterestTier:
    """Risk-based pricing of overdue interest: the daily rate of the score's band
    (``cfg.band_daily_interest_rates``, never above the default rate); without a score the
    default rate (``cfg.daily_interest_rate``, the SPEC's 0.05% a day)."""
    if score is None:
        return InterestTier(cfg.daily_interest_rate, "", "default rate")
    from qianbao.scoring.bands import BANDS_VERSION, score_band

    band = score_band(max(350, min(950, score)))
    why = f"{BANDS_VERSION}, score {score}" + (f", {source}" if source else "")
    return InterestTier(band_interest_rate(cfg, band.name), band.name, why)


def statement_rate(cfg: CreditConfig, st: Row) -> Decimal:
    """The daily interest rate of a bill: the tier fixed when it was cut (bills cut before
    tiers existed: the default), never above today's default rate."""
    rate = Decimal(st["interest_rate"]) if st["interest_rate"] else cfg.daily_interest_rate
    return min(rate, cfg.daily_interest_rate)


def score_ceiling_fen(tx: Tx, user_id: str, default_fen: int) -> int:
    """A user with a stored credit score cannot be raised above the ceiling of its band
    (scoring.bands); without a score the configured rules alone decide."""
    from qianbao.scoring.bands import score_band

    score = ports.score_source().latest_score_in(tx, user_id)
    if score is None:
        return default_fen
    band = score_band(max(350, min(950, score)))
    return band.max_line_fen if band.eligible else 0


def priced_rates(tx: Tx, user_id: str, standard: dict[int, Decimal]) -> dict[int, Decimal]:
    """Risk-based pricing: the installment fee tier of the user's score band (its discount off
    the standard total fee rates, scoring.bands); without a score, the standard rates."""
    from qianbao.scoring.bands import installment_fee_rate, score_band

    score = ports.score_source().latest_score_in(tx, user_id)
    if score is None:
        return standard
    band = score_band(max(350, min(950, score)))
    return {periods: installment_fee_rate(band, rate) for periods, rate in standard.items()}
