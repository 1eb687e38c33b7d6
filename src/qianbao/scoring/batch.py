"""Scoring many rows at once (evaluation, PSI). Same answers as :meth:`Attribute.points_for`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from qianbao.scoring.card import NUMERIC, Attribute, Scorecard, derive_column


def bin_index(attribute: Attribute, column: pd.Series) -> np.ndarray:
    """Position of each row's bin in ``attribute.bins``; ``len(bins)`` when none applies."""
    none = len(attribute.bins)
    out = np.full(len(column), none, dtype=np.int64)
    absent = column.isna().to_numpy()
    if attribute.kind == NUMERIC:
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        known = ~np.isnan(values)
        for i, b in enumerate(attribute.bins):
            if b.missing:
                continue
            inside = known.copy()
            if b.lower is not None:
                inside &= values >= b.lower
            if b.upper is not None:
                inside &= values < b.upper
            out[inside] = i
    else:
        text = column.astype("string")
        for i, b in enumerate(attribute.bins):
            if not b.missing:
                out[text.isin(list(b.categories)).fillna(False).to_numpy(dtype=bool)] = i
    for i, b in enumerate(attribute.bins):
        if b.missing:
            out[absent] = i
    return out


def attribute_column(attribute: Attribute, frame: pd.DataFrame) -> pd.Series | None:
    """The attribute's values in ``frame`` (computed for a derived one); None when absent."""
    if attribute.formula:
        if any(name not in frame.columns for name in attribute.inputs):
            return None
        return derive_column(attribute.formula, frame)
    return frame[attribute.name] if attribute.name in frame.columns else None


def attribute_points(attribute: Attribute, column: pd.Series) -> np.ndarray:
    """Points of one attribute for every row; missing or unseen values get ``missing_points``."""
    table = np.array([b.points for b in attribute.bins] + [attribute.missing_points])
    return table[bin_index(attribute, column)]


def card_points(card: Scorecard, frame: pd.DataFrame) -> np.ndarray:
    """Sum of the card's points for every row (not clamped)."""
    total = np.zeros(len(frame), dtype=np.int64)
    for attribute in card.attributes:
        column = attribute_column(attribute, frame)
        if column is not None:
            total += attribute_points(attribute, column)
        else:
            total += attribute.missing_points
    return total


def card_scores(card: Scorecard, frame: pd.DataFrame) -> np.ndarray:
    """The card's score of every row, clamped to the scale (350–950)."""
    s = card.scaling
    return np.clip(card_points(card, frame), s.min_score, s.max_score)
