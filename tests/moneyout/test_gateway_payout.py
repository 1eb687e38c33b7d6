"""A merchant's payout through the signed gateway (qianbao.fund.payout / .query)."""

from __future__ import annotations

from datetime import datetime, timedelta

from qianbao.payments import service as payments
from qianbao.payments.moneyout import payouts
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, new_user
from tests.moneyout.helpers import fresh_card
from tests.trades.conftest import gw, receiver  # noqa: F401 - the gateway fixtures
from tests.trades.helpers import merchant_fen


def test_payout_through_the_gateway(gw):  # noqa: F811
    p, c, m = gw.p, gw.client, gw.merchant_id
    buyer = new_user(p, balance_fen=100_00)
    payments.pay_merchant(p, buyer, m, 80_00, "gw-pay", PAY_PASSWORD)
    held = merchant_fen(p, m)
    missing = c.call("qianbao.fund.payout", {"amount": "10.00", "out_biz_no": "po-1"})
    assert (missing["code"], missing["sub_code"]) == ("40004", "ACQ.PAYOUT_ACCOUNT_MISSING")
    payouts.set_settlement_account(p, m, fresh_card(), "网关商户")
    paid = c.call("qianbao.fund.payout", {"amount": "50.00", "out_biz_no": "po-1"})
    assert paid["code"] == "10000" and paid["status"] == "SUCCEEDED" and paid["_verified"]
    later = datetime.now().astimezone() + timedelta(seconds=2)  # a retry: a new signed request
    again = c.post(
        c.signed_params(
            "qianbao.fund.payout", {"amount": "50.00", "out_biz_no": "po-1"}, timestamp=later
        )
    )
    assert again["order_id"] == paid["order_id"]
    assert merchant_fen(p, m) == held - 50_00
    q = c.call("qianbao.fund.payout.query", {"out_biz_no": "po-1"})
    assert q["status"] == "SUCCEEDED" and q["amount"] == "50.00"
    too_much = c.call("qianbao.fund.payout", {"amount": "999.00", "out_biz_no": "po-2"})
    assert too_much["sub_code"] == "ACQ.MERCHANT_BALANCE_NOT_ENOUGH"
    bad = c.call("qianbao.fund.payout", {"amount": "1.001", "out_biz_no": "po-3"})
    assert bad["code"] != "10000"
    assert c.call("qianbao.fund.payout.query", {"out_biz_no": "po-2"})["sub_code"] == (
        "ACQ.MONEY_OUT_NOT_FOUND"
    )
    assert merchant_fen(p, m) == held - 50_00
    assert_ledger_clean(p)
