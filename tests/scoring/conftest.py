from __future__ import annotations

import pytest

from qianbao.scoring.card import Scorecard
from qianbao.scoring.data import Dataset, load_german_credit
from qianbao.scoring.train import TrainParams, fit_scorecard
from qianbao.scoring.train import german_params as documented_params


def german_params(seed: int = 0) -> TrainParams:
    """The documented German Credit choices (trends, exclusions, derived attributes)."""
    return documented_params(seed)


@pytest.fixture(scope="session")
def german() -> Dataset:
    return load_german_credit()


@pytest.fixture(scope="session")
def card(german: Dataset) -> Scorecard:
    return fit_scorecard(german, german_params())
