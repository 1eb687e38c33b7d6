from __future__ import annotations

import json

import numpy as np
import pytest

from qianbao.scoring.batch import card_points, card_scores
from qianbao.scoring.card import Scorecard, ScoringInputError
from qianbao.scoring.evaluate import check_monotone
from qianbao.scoring.explain import score
from qianbao.scoring.train import fit_scorecard

from .conftest import german_params

KNOWN = {  # the first applicant of German Credit
    "status_of_existing_checking_account": "... < 0 DM",
    "duration_in_month": 6,
    "credit_history": "critical account/ other credits existing (not at this bank)",
    "purpose": "radio/television",
    "credit_amount": 1169,
    "savings_account_and_bonds": "unknown/ no savings account",
    "present_employment_since": "... >= 7 years",
    "installment_rate_in_percentage_of_disposable_income": 4,
    "personal_status_and_sex": "male : divorced/separated",
    "other_debtors_or_guarantors": "none",
    "present_residence_since": 4,
    "property": "real estate",
    "age_in_years": 67,
    "other_installment_plans": "none",
    "housing": "own",
    "number_of_existing_credits_at_this_bank": 2,
    "job": "skilled employee / official",
    "number_of_people_being_liable_to_provide_maintenance_for": 1,
    "telephone": "yes, registered under the customers name",
    "foreign_worker": "yes",
}


def by_hand(card_json: dict, applicant: dict) -> int:
    """What an analyst does with the printed card: find each row, add the points."""
    total = 0
    for attribute in card_json["attributes"]:
        if "formula" in attribute:  # printed with the attribute, e.g. a ÷ b ÷ c
            (first, _), *rest = attribute["formula"]
            value = applicant[first]
            for name, power in rest:
                value = value * applicant[name] if power > 0 else value / applicant[name]
        else:
            value = applicant[attribute["name"]]
        for row in attribute["bins"]:
            if attribute["kind"] == "numeric":
                low, high = row["lower"], row["upper"]
                if (low is None or value >= low) and (high is None or value < high):
                    total += row["points"]
                    break
            elif value in row["categories"]:
                total += row["points"]
                break
        else:
            raise AssertionError(f"no row for {attribute['name']}")
    return total


def test_points_summed_by_hand_equal_the_score(card):
    result = score(card, KNOWN)
    hand = by_hand(json.loads(card.to_json()), KNOWN)
    assert result.card_points == hand == sum(result.points_by_attribute.values())
    assert result.score == max(350, min(950, hand))
    assert result.version == card.version
    assert sum(result.points_by_dimension.values()) == result.points_total


def test_card_is_readable(card):
    assert 8 <= len(card.attributes) <= 20
    assert "personal_status_and_sex" not in card.attribute_names  # excluded by policy
    for attribute in card.attributes:
        assert 2 <= len(attribute.bins) <= 8
        assert all(isinstance(b.points, int) for b in attribute.bins)
        assert attribute.coefficient < 0
    assert all(check_monotone(card).values())


def test_reasons_are_the_attributes_that_cost_most(card):
    result = score(card, KNOWN)
    lost = [r.points_lost for r in result.reasons]
    assert lost == sorted(lost, reverse=True) and all(x > 0 for x in lost)
    top = result.reasons[0]
    attribute = card.attribute(top.code.split(":", 1)[1].lower())
    assert top.points_lost == attribute.max_points - result.points_by_attribute[attribute.name]


def test_same_seed_gives_byte_identical_artifacts(german, card):
    again = fit_scorecard(german, german_params())
    assert again.to_json() == card.to_json()
    assert again.version == card.version


def test_artifact_round_trips(card):
    text = card.to_json()
    back = Scorecard.from_json(text)
    assert back == card
    assert back.to_json() == text
    assert json.loads(text)["version"] == card.version


def test_a_broken_artifact_is_refused():
    with pytest.raises(ScoringInputError) as err:
        Scorecard.from_json("{not json")
    assert err.value.code == "SCORECARD_INVALID"
    with pytest.raises(ScoringInputError) as err:
        Scorecard.from_dict({"schema": 99})
    assert err.value.code == "SCORECARD_SCHEMA_UNSUPPORTED"


def test_batch_scoring_equals_one_by_one(german, card):
    frame = german.frame.iloc[:200]
    batch = card_points(card, frame)
    single = [score(card, row.to_dict()).card_points for _, row in frame.iterrows()]
    assert batch.tolist() == single
    scores = card_scores(card, german.frame)
    assert scores.min() >= 350 and scores.max() <= 950
    assert np.corrcoef(scores, german.target)[0, 1] < -0.3


def test_missing_and_unknown_answers(card):
    partial = {k: v for k, v in KNOWN.items() if k != "purpose"}
    lenient = score(card, partial)
    purpose = card.attribute("purpose")
    assert lenient.points_by_attribute["purpose"] == purpose.missing_points == purpose.min_points
    with pytest.raises(ScoringInputError) as err:
        score(card, partial, strict=True)
    assert err.value.code == "APPLICANT_ATTRIBUTE_MISSING"
    with pytest.raises(ScoringInputError) as err:
        score(card, {**KNOWN, "purpose": "yacht"}, strict=True)
    assert err.value.code == "APPLICANT_VALUE_UNKNOWN"
    with pytest.raises(ScoringInputError) as err:
        score(card, {**KNOWN, "duration_in_month": "long"})
    assert err.value.code == "APPLICANT_VALUE_INVALID"


def test_derived_attributes_are_computed_by_the_card(card):
    derived = [a for a in card.attributes if a.formula]
    assert derived, "the German card uses its derived attributes"
    assert set(card.inputs) >= {n for a in derived for n in a.inputs}
    assert not set(card.inputs) & {a.name for a in derived}
    name = "instalment_per_rate_class"
    if name in card.attribute_names:
        income = card.attribute(name)
        assert income.formula_text == (
            "credit_amount ÷ duration_in_month ÷ "
            "installment_rate_in_percentage_of_disposable_income"
        )
        assert income.value_in(KNOWN) == 1169 / 6 / 4
    back = Scorecard.from_json(card.to_json())
    assert [a.formula for a in back.attributes] == [a.formula for a in card.attributes]


def test_a_derived_input_missing_or_zero(card):
    derived = next(a for a in card.attributes if a.formula)
    first = derived.inputs[0]
    partial = {k: v for k, v in KNOWN.items() if k != first}
    assert score(card, partial).points_by_attribute[derived.name] == derived.missing_points
    with pytest.raises(ScoringInputError) as err:
        score(card, partial, strict=True)
    assert err.value.code == "APPLICANT_ATTRIBUTE_MISSING"
    divisor = next((n for n, p in derived.formula if p < 0), None)
    if divisor is not None:
        with pytest.raises(ScoringInputError) as err:
            score(card, {**KNOWN, divisor: 0}, strict=True)
        assert err.value.code == "APPLICANT_VALUE_INVALID"
        lenient = score(card, {**KNOWN, divisor: 0})
        assert lenient.points_by_attribute[derived.name] == derived.missing_points
