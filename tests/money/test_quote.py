"""The engine's pure arithmetic, without a platform: worked examples to the fen and
properties that parts always sum exactly to the whole."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qianbao.money_movement.errors import RefundAmountExceeded
from qianbao.money_movement.quote import Paid, quote_pay, quote_refund

RATE = Decimal("0.006")


def paid(amount_fen: int, fee_fen: int, **kw: object) -> Paid:
    fields: dict[str, object] = {
        "paid_id": "p1",
        "payer_id": "u1",
        "merchant_id": "m1",
        "amount_fen": amount_fen,
        "refunded_fen": 0,
        "fee_fen": fee_fen,
        "funding": "BALANCE",
        "funding_ref": "p1",
    }
    fields.update(kw)
    return Paid(**fields)  # type: ignore[arg-type]


def test_a_plain_payment_pays_the_fee_half_up_on_the_whole_amount() -> None:
    q = quote_pay(12_345, RATE)  # 74.07 fen -> 74
    assert (q.pays_fen, q.merchant_gross_fen, q.fee_fen) == (12_345, 12_345, 74)
    assert (
        str(q) == "price 12345 = funding 12345 + coupon 0; merchant gross 12345, fee 74, net 12271"
    )
    assert quote_pay(12_425, RATE).fee_fen == 75  # 74.55 -> 75 (half-up)


def test_a_platform_coupon_is_paid_by_the_platform_a_merchant_coupon_is_a_discount() -> None:
    platform = quote_pay(10_000, RATE, coupon_fen=1_000, coupon_funder="PLATFORM")
    assert (platform.pays_fen, platform.merchant_gross_fen, platform.fee_fen) == (9_000, 10_000, 60)
    merchant = quote_pay(10_000, RATE, coupon_fen=1_000, coupon_funder="MERCHANT")
    assert (merchant.pays_fen, merchant.merchant_gross_fen, merchant.fee_fen) == (9_000, 9_000, 54)


def test_escrow_takes_no_fee_until_release() -> None:
    assert quote_pay(10_000, RATE, escrowed=True).fee_fen == 0


def test_a_refund_gives_the_fee_and_the_coupon_back_pro_rata() -> None:
    p = paid(10_000, 60, coupon_fen=1_000, coupon_funder="PLATFORM")
    q = quote_refund(p, 2_500)
    assert (q.buyer_back_fen, q.coupon_back_fen, q.merchant_gross_fen, q.fee_back_fen) == (
        2_250,
        250,
        2_500,
        15,
    )
    m = quote_refund(paid(10_000, 54, coupon_fen=1_000, coupon_funder="MERCHANT"), 2_500)
    assert (m.buyer_back_fen, m.coupon_back_fen, m.merchant_gross_fen) == (2_250, 250, 2_250)


def test_never_more_than_is_left() -> None:
    with pytest.raises(RefundAmountExceeded) as exc:
        quote_refund(paid(10_000, 60, refunded_fen=9_000), 1_001)
    assert exc.value.code == "REFUND_AMOUNT_EXCEEDED"
    assert quote_refund(paid(10_000, 60, refunded_fen=9_000), 1_000).fee_back_fen == 6


@given(
    amount=st.integers(1, 10**9),
    rate_bp=st.integers(0, 500),
    coupon_share=st.floats(0, 0.99),
    merchant_coupon=st.booleans(),
    cuts=st.lists(st.floats(0.01, 1), min_size=1, max_size=8),
)
def test_refunds_in_any_parts_return_exactly_the_fee_and_the_coupon(
    amount: int, rate_bp: int, coupon_share: float, merchant_coupon: bool, cuts: list[float]
) -> None:
    coupon = min(int(amount * coupon_share), amount - 1)
    funder = "MERCHANT" if merchant_coupon else "PLATFORM"
    q = quote_pay(amount, Decimal(rate_bp) / 10_000, coupon_fen=coupon, coupon_funder=funder)
    assert q.pays_fen + q.coupon_fen == amount
    p = paid(amount, q.fee_fen, coupon_fen=coupon, coupon_funder=funder)
    fee_back = coupon_back = buyer_back = 0
    for cut in [*cuts, 1.0]:  # the last part refunds whatever is left
        left = p.amount_fen - p.refunded_fen
        step = max(1, min(left, int(left * cut)))
        r = quote_refund(p, step)
        assert r.buyer_back_fen + r.coupon_back_fen == step
        fee_back += r.fee_back_fen
        coupon_back += r.coupon_back_fen
        buyer_back += r.buyer_back_fen
        p = paid(
            amount,
            q.fee_fen,
            refunded_fen=p.refunded_fen + step,
            coupon_fen=coupon,
            coupon_funder=funder,
        )
        if p.refunded_fen == amount:
            break
    assert (fee_back, coupon_back, buyer_back) == (q.fee_fen, coupon, q.pays_fen)
