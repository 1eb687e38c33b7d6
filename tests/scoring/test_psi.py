from __future__ import annotations

import numpy as np
import pytest

from qianbao.scoring.psi import psi, stability_report, status


def test_psi_of_the_same_distribution_is_zero():
    assert psi(np.array([10, 20, 30]), np.array([1, 2, 3])) == pytest.approx(0.0)


def test_psi_by_hand():
    expected = np.array([0.5, 0.5])
    actual = np.array([0.25, 0.75])
    by_hand = (0.25 - 0.5) * np.log(0.25 / 0.5) + (0.75 - 0.5) * np.log(0.75 / 0.5)
    assert psi(expected, actual) == pytest.approx(by_hand)
    assert status(0.05) == "stable" and status(0.2) == "watch" and status(0.3) == "shifted"


def test_psi_needs_two_distributions():
    with pytest.raises(ValueError):
        psi(np.array([1, 2]), np.array([1, 2, 3]))


def test_stability_of_score_and_attributes(german, card):
    frame = german.frame
    same = stability_report(card, frame, frame.sample(frac=1.0, random_state=1))
    assert same[0].name == "score"
    assert [r.name for r in same[1:]] == card.attribute_names
    assert all(r.psi < 1e-9 for r in same)
    young = frame[frame["age_in_years"] < 30]
    shifted = stability_report(card, frame, young)
    rows = {r.name: r for r in shifted}
    assert rows["age_in_years"].status == "shifted"
    assert rows["score"].psi > 0.02
    # each share is rounded to 6 digits (rfloat), so their sum is 1 within bands × 5e-7
    assert sum(rows["score"].actual_share) == pytest.approx(1.0, abs=1e-5)
