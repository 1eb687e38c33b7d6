"""Population stability: has the population moved since the card was trained?

PSI = sum over bins of (actual% - expected%) * ln(actual% / expected%). The usual reading:
below 0.10 stable, 0.10–0.25 watch, above 0.25 the population has shifted (re-develop).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from qianbao.scoring.batch import attribute_column, bin_index, card_scores
from qianbao.scoring.card import Attribute, Scorecard, rfloat

EPSILON = 1e-4
SCORE_EDGES = (350, 450, 500, 550, 600, 650, 700, 750, 800, 950)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI of two count (or share) vectors over the same bins."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    if e.shape != a.shape or e.sum() <= 0 or a.sum() <= 0:
        raise ValueError("PSI needs two non-empty distributions over the same bins")
    e = np.maximum(e / e.sum(), EPSILON)
    a = np.maximum(a / a.sum(), EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def status(value: float) -> str:
    if value < 0.10:
        return "stable"
    if value < 0.25:
        return "watch"
    return "shifted"


@dataclass(frozen=True)
class StabilityRow:
    name: str
    psi: float
    status: str
    expected_share: list[float]
    actual_share: list[float]
    labels: list[str]


def score_bins(scores: np.ndarray) -> np.ndarray:
    edges = np.asarray(SCORE_EDGES[1:-1])
    return np.searchsorted(edges, scores, side="right")


def score_labels() -> list[str]:
    e = SCORE_EDGES
    return [
        f"{e[i]}–{e[i + 1] - 1}" if i + 2 < len(e) else f"{e[i]}–{e[i + 1]}"
        for i in range(len(e) - 1)
    ]


def _row(name: str, labels: list[str], expected: np.ndarray, actual: np.ndarray) -> StabilityRow:
    value = psi(expected, actual)
    return StabilityRow(
        name=name,
        psi=rfloat(value),
        status=status(value),
        expected_share=[rfloat(x) for x in expected / expected.sum()],
        actual_share=[rfloat(x) for x in actual / actual.sum()],
        labels=labels,
    )


def stability_report(
    card: Scorecard, expected: pd.DataFrame, actual: pd.DataFrame
) -> list[StabilityRow]:
    """PSI of the score and of every attribute of the card (by the card's own bins).

    ``expected`` is the training population, ``actual`` the platform's recent applicants.
    The first row is the score.
    """
    if len(expected) == 0 or len(actual) == 0:
        raise ValueError("PSI needs rows on both sides")
    n_bins = len(SCORE_EDGES) - 1
    rows = [
        _row(
            "score",
            score_labels(),
            np.bincount(score_bins(card_scores(card, expected)), minlength=n_bins).astype(float),
            np.bincount(score_bins(card_scores(card, actual)), minlength=n_bins).astype(float),
        )
    ]
    for attribute in card.attributes:
        keys = [b.label for b in attribute.bins] + ["missing/unseen"]
        exp_idx = _positions(attribute, expected)
        act_idx = _positions(attribute, actual)
        rows.append(
            _row(
                attribute.name,
                keys,
                np.bincount(exp_idx, minlength=len(keys)).astype(float),
                np.bincount(act_idx, minlength=len(keys)).astype(float),
            )
        )
    return rows


def _positions(attribute: Attribute, frame: pd.DataFrame) -> np.ndarray:
    column = attribute_column(attribute, frame)
    if column is None:
        return np.full(len(frame), len(attribute.bins), dtype=np.int64)
    return bin_index(attribute, column)
