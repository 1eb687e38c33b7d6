from __future__ import annotations

import pytest

from qianbao.scoring.card import Scorecard
from qianbao.scoring.data import Dataset, load_german_credit
from qianbao.scoring.dimensions import GERMAN_DIMENSIONS, GERMAN_EXCLUDED, GERMAN_TRENDS
from qianbao.scoring.train import TrainParams, fit_scorecard


def german_params(seed: int = 0) -> TrainParams:
    return TrainParams(
        seed=seed, trends=GERMAN_TRENDS, exclude=GERMAN_EXCLUDED, dimensions=GERMAN_DIMENSIONS
    )


@pytest.fixture(scope="session")
def german() -> Dataset:
    return load_german_credit()


@pytest.fixture(scope="session")
def card(german: Dataset) -> Scorecard:
    return fit_scorecard(german, german_params())
