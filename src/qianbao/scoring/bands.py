"""Score bands: Huabei eligibility, initial line, line ceiling and pricing tier.

A documented table (configuration, not a model). Lines are integer fen: 500–30,000 CNY for
everyday shopping (the seed's everyday cap), medical purchases may go to 50,000 CNY.
Rates are ``Decimal``: the installment-fee discount is a fraction of the standard fee, the
daily interest rate applies to revolving balances (the seed's default is 0.05 % a day).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from qianbao.platform.money import round_fen
from qianbao.scoring.card import ScoringInputError

FEN_PER_YUAN = 100
MIN_LINE_FEN = 500 * FEN_PER_YUAN
EVERYDAY_CAP_FEN = 30_000 * FEN_PER_YUAN
MEDICAL_CAP_FEN = 50_000 * FEN_PER_YUAN
LINE_STEP_FEN = 100 * FEN_PER_YUAN
INCREASE_RATE = Decimal("0.20")
MIN_MONTHS_BETWEEN_INCREASES = 3
BANDS_VERSION = "bands-v1"


@dataclass(frozen=True)
class Band:
    name: str
    label: str
    min_score: int
    max_score: int
    eligible: bool
    initial_line_fen: int
    max_line_fen: int
    installment_fee_discount: Decimal
    daily_interest_rate: Decimal

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "label": self.label,
            "min_score": self.min_score,
            "max_score": self.max_score,
            "eligible": self.eligible,
            "initial_line_fen": self.initial_line_fen,
            "max_line_fen": self.max_line_fen,
            "installment_fee_discount": str(self.installment_fee_discount),
            "daily_interest_rate": str(self.daily_interest_rate),
            "version": BANDS_VERSION,
        }


def _yuan(amount: int) -> int:
    return amount * FEN_PER_YUAN


BANDS: tuple[Band, ...] = (
    Band("poor", "较差", 350, 549, False, 0, 0, Decimal("0"), Decimal("0.0005")),
    Band("fair", "中等", 550, 599, True, _yuan(500), _yuan(2_000), Decimal("0"), Decimal("0.0005")),
    Band(
        "good", "良好", 600, 649, True, _yuan(2_000), _yuan(8_000), Decimal("0"), Decimal("0.0005")
    ),
    Band(
        "very_good",
        "优秀",
        650,
        699,
        True,
        _yuan(5_000),
        _yuan(15_000),
        Decimal("0.10"),
        Decimal("0.00045"),
    ),  # fmt: skip
    Band(
        "excellent",
        "极好",
        700,
        749,
        True,
        _yuan(10_000),
        _yuan(25_000),
        Decimal("0.20"),
        Decimal("0.0004"),
    ),  # fmt: skip
    Band(
        "exceptional",
        "极好+",
        750,
        950,
        True,
        _yuan(20_000),
        EVERYDAY_CAP_FEN,
        Decimal("0.30"),
        Decimal("0.00035"),
    ),  # fmt: skip
)


def score_band(score: int) -> Band:
    """The band of a final (clamped) score."""
    if isinstance(score, bool) or not isinstance(score, int):
        raise ScoringInputError("SCORE_INVALID", f"score must be an int, got {score!r}")
    for band in BANDS:
        if band.min_score <= score <= band.max_score:
            return band
    raise ScoringInputError("SCORE_OUT_OF_RANGE", f"score {score} is outside 350–950")


def installment_fee_rate(band: Band, standard_rate: Decimal) -> Decimal:
    """The band's fee rate for an installment plan whose standard total fee is ``standard_rate``."""
    return standard_rate * (Decimal(1) - band.installment_fee_discount)


@dataclass(frozen=True)
class LineDecision:
    line_fen: int
    changed: bool
    reason: str


def review_line(
    current_line_fen: int, score: int, months_since_last_change: int, current_overdue_fen: int
) -> LineDecision:
    """Periodic re-scoring: raise the line by 20 % (in 100 CNY steps) up to the band's ceiling.

    Only for users who are not overdue and whose line has not changed for three months.
    Lines never fall automatically here: a decrease is a risk decision with its own notice.
    """
    if current_line_fen < 0 or current_overdue_fen < 0 or months_since_last_change < 0:
        raise ScoringInputError("LINE_REVIEW_INVALID", "amounts and months must be >= 0")
    band = score_band(score)
    if current_overdue_fen > 0:
        return LineDecision(current_line_fen, False, "OVERDUE")
    if not band.eligible:
        return LineDecision(current_line_fen, False, "SCORE_TOO_LOW")
    if months_since_last_change < MIN_MONTHS_BETWEEN_INCREASES:
        return LineDecision(current_line_fen, False, "TOO_SOON")
    if current_line_fen >= band.max_line_fen:
        return LineDecision(current_line_fen, False, "AT_BAND_CEILING")
    raised = round_fen(Decimal(current_line_fen) * (Decimal(1) + INCREASE_RATE))
    stepped = (raised // LINE_STEP_FEN) * LINE_STEP_FEN
    new_line = max(band.initial_line_fen, min(band.max_line_fen, stepped))
    if new_line <= current_line_fen:
        return LineDecision(current_line_fen, False, "NO_STEP")
    return LineDecision(new_line, True, "INCREASED")
