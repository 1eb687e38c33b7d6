"""Scoring one applicant: points per attribute and dimension, the final score, the reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qianbao.scoring.behaviour import (
    BEHAVIOUR_VERSION,
    Adjustment,
    BehaviourFeatures,
    behaviour_adjustment,
)
from qianbao.scoring.card import Scorecard
from qianbao.scoring.dimensions import DIMENSION_LABELS, DIMENSIONS

MAX_REASONS = 4


@dataclass(frozen=True)
class Reason:
    """Why the score is not higher: ``points_lost`` against the best answer of that line."""

    code: str
    dimension: str
    points: int
    points_lost: int
    message: str


@dataclass(frozen=True)
class ScoreResult:
    """A score and everything needed to explain it and trace it to the card that made it.

    ``points_by_dimension`` sums to ``points_total``; ``score`` is that total clamped to the
    scale (350–950).
    """

    score: int
    version: str
    points_total: int
    card_points: int
    points_by_attribute: dict[str, int]
    points_by_dimension: dict[str, int]
    reasons: list[Reason]
    behaviour_points: int = 0
    behaviour_version: str | None = None
    adjustment: Adjustment | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON view for the API: integers and strings only."""
        return {
            "score": self.score,
            "version": self.version,
            "behaviour_version": self.behaviour_version,
            "points_total": self.points_total,
            "card_points": self.card_points,
            "behaviour_points": self.behaviour_points,
            "points_by_attribute": dict(self.points_by_attribute),
            "dimensions": [
                {
                    "dimension": d,
                    "label": DIMENSION_LABELS[d],
                    "points": self.points_by_dimension[d],
                }
                for d in DIMENSIONS
            ],
            "reasons": [
                {
                    "code": r.code,
                    "dimension": r.dimension,
                    "points": r.points,
                    "points_lost": r.points_lost,
                    "message": r.message,
                }
                for r in self.reasons
            ],
        }


def score(
    card: Scorecard,
    applicant: dict[str, Any],
    behaviour: BehaviourFeatures | None = None,
    *,
    strict: bool = False,
    max_reasons: int = MAX_REASONS,
) -> ScoreResult:
    """Score an applicant's answers with ``card``, plus platform behaviour when given.

    ``strict`` refuses missing or unknown answers (an application form); otherwise they get
    the attribute's missing points (conservative: the lowest bin unless missing was common).
    """
    points = card.points(applicant, strict=strict)
    by_dimension = {d: 0 for d in DIMENSIONS}
    reasons = []
    for attribute in card.attributes:
        got = points[attribute.name]
        by_dimension[attribute.dimension] += got
        lost = attribute.max_points - got
        if lost > 0:
            value = attribute.value_in(applicant)
            if attribute.formula and isinstance(value, float):
                value = round(value, 2)  # a derived ratio
            reasons.append(
                Reason(
                    code=f"CARD:{attribute.name.upper()}",
                    dimension=attribute.dimension,
                    points=got,
                    points_lost=lost,
                    message=f"{attribute.name} = {value!r}: {got} of {attribute.max_points} points",
                )
            )
    card_total = sum(points.values())
    adjustment = behaviour_adjustment(behaviour) if behaviour is not None else None
    behaviour_points = 0
    if adjustment is not None:
        behaviour_points = adjustment.points
        for dimension, extra in adjustment.points_by_dimension().items():
            by_dimension[dimension] += extra
        best = _best_behaviour_points()
        for line in adjustment.lines:
            lost = best[line.code] - line.points
            if line.points < 0 or lost > 0:
                reasons.append(
                    Reason(
                        code=f"BEHAVIOUR:{line.code}",
                        dimension=line.dimension,
                        points=line.points,
                        points_lost=lost,
                        message=f"{line.description} = {line.value}: {line.points:+d} points",
                    )
                )
    total = card_total + behaviour_points
    assert sum(by_dimension.values()) == total, "dimensions must add up to the total"
    reasons.sort(key=lambda r: (-r.points_lost, r.code))
    return ScoreResult(
        score=card.scaling.clamp(total),
        version=card.version,
        points_total=total,
        card_points=card_total,
        points_by_attribute=points,
        points_by_dimension=by_dimension,
        reasons=reasons[:max_reasons],
        behaviour_points=behaviour_points,
        behaviour_version=BEHAVIOUR_VERSION if adjustment is not None else None,
        adjustment=adjustment,
    )


def _best_behaviour_points() -> dict[str, int]:
    from qianbao.scoring.behaviour import RULES

    best = {code: max(p for _, p in table) for code, _, table, _ in RULES}
    best["HUABEI_CURRENTLY_OVERDUE"] = 0
    return best
