"""Full-reduction tiers and the quote with an offer and a coupon, to the fen, refunded in any
number of parts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qianbao.marketing.errors import ReductionInvalid
from qianbao.marketing.reductions.model import Tier, check_tiers, off_for
from qianbao.money_movement.quote import Paid, quote_pay, quote_refund

TIERS = check_tiers([Tier(200_00, 30_00), Tier(100_00, 10_00), Tier(300_00, 50_00)])


def test_the_highest_tier_reached_applies():
    assert [off_for(TIERS, a) for a in (99_99, 100_00, 199_99, 200_00, 299_99, 10_000_00)] == [
        0,
        10_00,
        10_00,
        30_00,
        30_00,
        50_00,
    ]


@pytest.mark.parametrize(
    "tiers",
    [
        [],
        [Tier(100_00, 100_00)],  # the buyer would pay nothing
        [Tier(100_00, 0)],
        [Tier(100_00, 10_00), Tier(200_00, 10_00)],  # a higher tier must give more
        [Tier(100_00, 10_00), Tier(100_00, 20_00)],
        [Tier(100_00, 10.5)],  # type: ignore[arg-type]
    ],
)
def test_bad_tiers_are_refused(tiers):
    with pytest.raises(ReductionInvalid):
        check_tiers(tiers)


def test_an_offer_and_a_coupon_on_one_price():
    rate = Decimal("0.006")
    platform = quote_pay(250_00, rate, offer_fen=30_00, offer_funder="PLATFORM")
    assert (platform.pays_fen, platform.merchant_gross_fen, platform.fee_fen) == (
        220_00,
        250_00,
        1_50,
    )
    both = quote_pay(
        120_00,
        rate,
        offer_fen=20_00,
        offer_funder="MERCHANT",
        coupon_fen=10_00,
        coupon_funder="PLATFORM",
    )
    assert (both.pays_fen, both.merchant_gross_fen, both.fee_fen) == (90_00, 100_00, 60)
    assert str(both).startswith("price 12000 = funding 9000 + coupon 1000 + offer 2000;")
    paid = Paid(
        "t",
        "u",
        "m",
        120_00,
        0,
        60,
        "BALANCE",
        "t",
        coupon_fen=10_00,
        coupon_funder="PLATFORM",
        offer_fen=20_00,
        offer_funder="MERCHANT",
    )
    r = quote_refund(paid, 30_00)  # a quarter
    assert (r.buyer_back_fen, r.coupon_back_fen, r.offer_back_fen) == (22_50, 2_50, 5_00)
    assert (r.merchant_gross_fen, r.fee_back_fen) == (25_00, 15)


@given(
    amount=st.integers(3, 10**9),
    offer_share=st.floats(0, 0.6),
    coupon_share=st.floats(0, 0.39),
    merchant_offer=st.booleans(),
    cuts=st.lists(st.floats(0.01, 1), min_size=1, max_size=8),
)
def test_refunds_in_any_parts_return_exactly_the_offer(
    amount: int, offer_share: float, coupon_share: float, merchant_offer: bool, cuts: list[float]
) -> None:
    offer = int(amount * offer_share)
    coupon = min(int(amount * coupon_share), amount - offer - 1)
    funder = "MERCHANT" if merchant_offer else "PLATFORM"
    q = quote_pay(
        amount,
        Decimal("0.006"),
        coupon_fen=coupon,
        coupon_funder="PLATFORM",
        offer_fen=offer,
        offer_funder=funder,
    )
    assert q.pays_fen + q.coupon_fen + q.offer_fen == amount and q.pays_fen >= 1
    refunded = offer_back = buyer_back = gross_back = 0
    for cut in [*cuts, 1.0]:
        left = amount - refunded
        if not left:
            break
        step = max(1, min(left, int(left * cut)))
        paid = Paid(
            "t",
            "u",
            "m",
            amount,
            refunded,
            q.fee_fen,
            "BALANCE",
            "t",
            coupon_fen=coupon,
            coupon_funder="PLATFORM",
            offer_fen=offer,
            offer_funder=funder,
        )
        r = quote_refund(paid, step)
        assert r.buyer_back_fen + r.coupon_back_fen + r.offer_back_fen == step
        refunded += step
        offer_back += r.offer_back_fen
        buyer_back += r.buyer_back_fen
        gross_back += r.merchant_gross_fen
    assert refunded == amount and offer_back == offer and buyer_back == q.pays_fen
    assert gross_back == q.merchant_gross_fen
