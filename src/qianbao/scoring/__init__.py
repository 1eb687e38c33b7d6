"""Credit score: an explainable 350–950 scorecard, its five dimensions and its uses.

A pure library (no database): the core fills :class:`BehaviourFeatures` from the ledger,
reads the active card from the registry directory and stores each score with its version.
"""

from qianbao.scoring.bands import Band, LineDecision, review_line, score_band
from qianbao.scoring.behaviour import (
    BEHAVIOUR_VERSION,
    Adjustment,
    BehaviourFeatures,
    behaviour_adjustment,
)
from qianbao.scoring.card import Scorecard, ScoringInputError
from qianbao.scoring.data import ScoringDataError, load_csv, load_german_credit
from qianbao.scoring.explain import Reason, ScoreResult, score
from qianbao.scoring.registry import get, load_active, train_and_register

__all__ = [
    "BEHAVIOUR_VERSION",
    "Adjustment",
    "Band",
    "BehaviourFeatures",
    "LineDecision",
    "Reason",
    "ScoreResult",
    "Scorecard",
    "ScoringDataError",
    "ScoringInputError",
    "behaviour_adjustment",
    "get",
    "load_active",
    "load_csv",
    "load_german_credit",
    "review_line",
    "score",
    "score_band",
    "train_and_register",
]
