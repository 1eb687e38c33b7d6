"""Platform behaviour: a versioned, documented adjustment on top of the trained card.

The card is trained on external data and cannot see how someone uses Qianbao. This layer
can: the core fills :class:`BehaviourFeatures` from the ledger and Huabei tables, and the
points below move the score. It is a table, not a model, so a person can check it; changing
any number means a new ``BEHAVIOUR_VERSION`` (old scores keep naming the version they used).
"""

from __future__ import annotations

from dataclasses import dataclass

from qianbao.scoring.card import ScoringInputError
from qianbao.scoring.dimensions import BEHAVIOUR, HISTORY, IDENTITY

BEHAVIOUR_VERSION = "behaviour-v1"

# (lower bound inclusive, points): the last row whose bound is <= the value applies.
ACCOUNT_AGE_DAYS = ((0, -20), (30, 0), (180, 10), (365, 20), (1095, 30))
PAYMENTS_LAST_90D = ((0, -10), (1, 0), (10, 10), (50, 15))
ACTIVE_MONTHS_LAST_6 = ((0, -10), (2, 0), (4, 5), (6, 15))
BILLS_PAID_ON_TIME = ((0, 0), (1, 10), (6, 20), (12, 30))
BILLS_OVERDUE = ((0, 0), (1, -30), (2, -60), (4, -100))
MAX_OVERDUE_DAYS = ((0, 0), (1, -10), (4, -40), (31, -80), (91, -150))
CURRENTLY_OVERDUE_POINTS = -60

# One row per rule: (code, dimension, table, what the rule measures).
RULES = (
    ("ACCOUNT_AGE", IDENTITY, ACCOUNT_AGE_DAYS, "account age (days)"),
    ("PAYMENT_FREQUENCY", BEHAVIOUR, PAYMENTS_LAST_90D, "payments in the last 90 days"),
    ("ACTIVE_MONTHS", BEHAVIOUR, ACTIVE_MONTHS_LAST_6, "active months of the last 6"),
    ("HUABEI_ON_TIME", HISTORY, BILLS_PAID_ON_TIME, "Huabei bills paid on time"),
    ("HUABEI_OVERDUE_BILLS", HISTORY, BILLS_OVERDUE, "Huabei bills paid late"),
    ("HUABEI_MAX_OVERDUE_DAYS", HISTORY, MAX_OVERDUE_DAYS, "longest Huabei overdue (days)"),
)
LIMIT = 10**9  # bounds on counts and days: a value above it is a bug upstream


@dataclass(frozen=True)
class BehaviourFeatures:
    """What the ledger knows about a user. Counts are ints; money is integer fen."""

    account_age_days: int = 0
    payments_last_90d: int = 0
    active_months_last_6: int = 0
    huabei_bills_paid_on_time: int = 0
    huabei_bills_overdue: int = 0
    max_overdue_days: int = 0
    current_overdue_fen: int = 0

    def validate(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int) or isinstance(value, bool):
                raise ScoringInputError("BEHAVIOUR_INVALID", f"{name} must be an int")
            if value < 0 or value > LIMIT * 100:
                raise ScoringInputError("BEHAVIOUR_INVALID", f"{name} out of range: {value}")
        if self.active_months_last_6 > 6:
            raise ScoringInputError("BEHAVIOUR_INVALID", "active_months_last_6 is at most 6")


@dataclass(frozen=True)
class AdjustmentLine:
    code: str
    dimension: str
    points: int
    value: int
    description: str


@dataclass(frozen=True)
class Adjustment:
    """Points to add to the card's score, each line with its dimension; and the table version."""

    points: int
    lines: tuple[AdjustmentLine, ...]
    version: str = BEHAVIOUR_VERSION

    @property
    def reasons(self) -> list[AdjustmentLine]:
        """Lines that cost points, the most costly first."""
        return sorted((x for x in self.lines if x.points < 0), key=lambda x: (x.points, x.code))

    def points_by_dimension(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for line in self.lines:
            out[line.dimension] = out.get(line.dimension, 0) + line.points
        return out


def lookup(table: tuple[tuple[int, int], ...], value: int) -> int:
    points = table[0][1]
    for bound, row_points in table:
        if value >= bound:
            points = row_points
    return points


def behaviour_adjustment(features: BehaviourFeatures) -> Adjustment:
    """The documented table applied to one user: between -350 and +90 points."""
    features.validate()
    lines = []
    for code, dimension, table, description in RULES:
        value = int(getattr(features, _FIELD[code]))
        lines.append(AdjustmentLine(code, dimension, lookup(table, value), value, description))
    if features.current_overdue_fen > 0:
        lines.append(
            AdjustmentLine(
                "HUABEI_CURRENTLY_OVERDUE",
                HISTORY,
                CURRENTLY_OVERDUE_POINTS,
                features.current_overdue_fen,
                "Huabei amount overdue now (fen)",
            )
        )
    return Adjustment(points=sum(x.points for x in lines), lines=tuple(lines))


_FIELD = {
    "ACCOUNT_AGE": "account_age_days",
    "PAYMENT_FREQUENCY": "payments_last_90d",
    "ACTIVE_MONTHS": "active_months_last_6",
    "HUABEI_ON_TIME": "huabei_bills_paid_on_time",
    "HUABEI_OVERDUE_BILLS": "huabei_bills_overdue",
    "HUABEI_MAX_OVERDUE_DAYS": "max_overdue_days",
}
