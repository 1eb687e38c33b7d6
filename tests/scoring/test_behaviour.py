from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qianbao.scoring.behaviour import (
    BEHAVIOUR_VERSION,
    BehaviourFeatures,
    behaviour_adjustment,
)
from qianbao.scoring.card import ScoringInputError
from qianbao.scoring.explain import score

from .test_card import KNOWN

NEW_USER = BehaviourFeatures()
MODEL_USER = BehaviourFeatures(
    account_age_days=1500,
    payments_last_90d=80,
    active_months_last_6=6,
    huabei_bills_paid_on_time=24,
)


def test_a_new_account_costs_a_little():
    adjustment = behaviour_adjustment(NEW_USER)
    assert adjustment.points == -40  # -20 account age, -10 payments, -10 active months
    assert adjustment.version == BEHAVIOUR_VERSION
    assert [r.code for r in adjustment.reasons][0] == "ACCOUNT_AGE"


def test_a_model_user_gains_the_maximum():
    assert behaviour_adjustment(MODEL_USER).points == 90


def test_overdue_history_costs_points_and_is_the_first_reason():
    late = BehaviourFeatures(
        account_age_days=400,
        payments_last_90d=20,
        active_months_last_6=5,
        huabei_bills_paid_on_time=10,
        huabei_bills_overdue=2,
        max_overdue_days=45,
        current_overdue_fen=12_345,
    )
    adjustment = behaviour_adjustment(late)
    # +20 age, +10 payments, +5 active, +20 on time, -60 late bills, -80 days, -60 now
    assert adjustment.points == 20 + 10 + 5 + 20 - 60 - 80 - 60
    assert adjustment.reasons[0].code == "HUABEI_MAX_OVERDUE_DAYS"
    assert adjustment.points_by_dimension()["history"] == 20 - 60 - 80 - 60


@pytest.mark.parametrize(
    "features",
    [
        BehaviourFeatures(account_age_days=-1),
        BehaviourFeatures(active_months_last_6=7),
        BehaviourFeatures(current_overdue_fen=True),  # type: ignore[arg-type]
        BehaviourFeatures(payments_last_90d=1.5),  # type: ignore[arg-type]
    ],
)
def test_bad_features_are_refused(features):
    with pytest.raises(ScoringInputError) as err:
        behaviour_adjustment(features)
    assert err.value.code == "BEHAVIOUR_INVALID"


counts = st.integers(min_value=0, max_value=5000)


@given(
    age=counts,
    payments=counts,
    months=st.integers(0, 6),
    on_time=counts,
    overdue=counts,
    days=counts,
    now_fen=st.integers(0, 10**9),
    extra=st.integers(1, 100),
)
def test_more_overdue_never_raises_the_adjustment(
    age, payments, months, on_time, overdue, days, now_fen, extra
):
    base = BehaviourFeatures(age, payments, months, on_time, overdue, days, now_fen)
    worse = BehaviourFeatures(
        age, payments, months, on_time, overdue + extra, days + extra, now_fen + extra
    )
    better = BehaviourFeatures(
        age + extra, payments + extra, months, on_time + extra, overdue, days, now_fen
    )
    a, w, b = (behaviour_adjustment(x) for x in (base, worse, better))
    assert w.points <= a.points <= b.points
    assert -350 <= a.points <= 90
    assert sum(a.points_by_dimension().values()) == a.points


def test_behaviour_moves_the_score_and_its_dimensions(card):
    plain = score(card, KNOWN)
    good = score(card, KNOWN, MODEL_USER)
    bad = score(card, KNOWN, BehaviourFeatures(huabei_bills_overdue=5, max_overdue_days=120))
    assert good.points_total == plain.card_points + 90
    assert good.score == min(950, good.points_total)
    assert bad.score < plain.score < good.score
    assert good.behaviour_version == BEHAVIOUR_VERSION and plain.behaviour_version is None
    assert sum(good.points_by_dimension.values()) == good.points_total
    assert good.points_by_dimension["history"] > plain.points_by_dimension["history"]
    assert any(r.code.startswith("BEHAVIOUR:") for r in bad.reasons)
    view = bad.to_dict()
    assert [d["dimension"] for d in view["dimensions"]] == [
        "identity", "ability", "history", "connections", "behaviour"
    ]  # fmt: skip


def test_final_score_is_clamped(card):
    worst = {a.name: None for a in card.attributes}
    result = score(card, worst, BehaviourFeatures(huabei_bills_overdue=9, max_overdue_days=400,
                                                  current_overdue_fen=1))  # fmt: skip
    assert result.points_total < 350
    assert result.score == 350
