"""Huabei payments and refunds appear in the merchant's activity beside wallet payments."""

from __future__ import annotations

from datetime import date

from qianbao.credit import service as credit
from qianbao.payments import service as payments
from qianbao.platform.runtime import Platform
from tests.conftest import assert_ledger_clean
from tests.credit.helpers import at, huabei_user, merchant
from tests.factories import PAY_PASSWORD


def test_huabei_activity_reaches_the_merchant(platform: Platform) -> None:
    p = platform
    at(date(2026, 3, 2))
    user = huabei_user(p, line_fen=100_000, balance_fen=50_000, unit=1)
    shop = merchant(p)
    bought = credit.pay_merchant_with_huabei(p, user, shop, 20_000, "hb-1", PAY_PASSWORD)
    payments.pay_merchant(p, user, shop, 5_000, "wallet-1", PAY_PASSWORD)
    credit.refund_huabei_purchase(p, shop, bought["id"], 8_000, "hb-refund-1")
    p.relay.drain()
    activity = payments.merchant_activity(p, shop)
    assert sorted((a["kind"], a["amount_fen"]) for a in activity) == [
        ("PAYMENT", 5_000),
        ("PAYMENT", 20_000),
        ("REFUND", -8_000),
    ]
    assert {a["payment_id"] for a in activity if a["amount_fen"] != 5_000} == {bought["id"]}
    fees = sum(a["fee_fen"] for a in activity)
    assert fees == 30 + 120 - 48  # 0.6% of 50.00 and of 200.00, minus 0.6% of 80.00 back
    assert_ledger_clean(p)
