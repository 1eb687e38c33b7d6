"""The signed gateway over real HTTP, called by the example merchant client."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import httpx
import pytest

from qianbao.openapi import signing
from qianbao.payments import codes, paylinks, trades
from qianbao.platform.errors import QianbaoError
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, new_user
from tests.trades.helpers import balance, merchant_fen


def _biz(out: str, amount: str = "10.00", **kw: str) -> dict[str, str]:
    return {"out_trade_no": out, "total_amount": amount, "subject": "Gateway test", **kw}


def _trade_count(p) -> int:
    total = 0
    for db in p.units:
        with db.read() as tx:
            total += int(tx.scalar("SELECT COUNT(*) FROM trade_orders") or 0)
    return total


def test_trade_lifecycle_through_the_gateway(gw):
    p, c = gw.p, gw.client
    buyer = new_user(p, unit=1, balance_fen=100_00, password_free_fen=20_00)
    created = c.call("qianbao.trade.create", {**_biz("gw-1", "12.50"), "buyer_id": buyer})
    assert created["code"] == "10000" and created["_verified"]
    assert created["pay_url"].endswith(paylinks.path(p, created["trade_no"]))  # with its token
    q = c.call("qianbao.trade.query", {"out_trade_no": "gw-1"})
    assert q["trade_status"] == "WAIT_BUYER_PAY" and q["total_amount"] == "12.50"
    trades.pay(p, created["trade_no"], buyer, PAY_PASSWORD)
    q = c.call("qianbao.trade.query", {"trade_no": created["trade_no"]})
    assert q["trade_status"] == "TRADE_SUCCESS" and q["gmt_payment"]
    r = c.call(
        "qianbao.trade.refund",
        {"out_trade_no": "gw-1", "refund_amount": "2.50", "out_request_no": "rf-1"},
    )
    assert r["code"] == "10000" and r["refund_fee"] == "2.50" and r["fund_change"] == "Y"
    retry = {"out_trade_no": "gw-1", "refund_amount": "2.50", "out_request_no": "rf-1"}
    # a retry is a new signed request (another timestamp), the same refund: idempotent
    later = datetime.now().astimezone() + timedelta(seconds=2)
    again = c.post(c.signed_params("qianbao.trade.refund", retry, timestamp=later))
    assert again["code"] == "10000" and again["refund_fee"] == "2.50"
    assert balance(p, buyer) == 100_00 - 10_00

    pre = c.call("qianbao.trade.precreate", _biz("gw-2", "3.00", timeout_express="15m"))
    assert pre["qr_code"].startswith("http") and "/cashier/o/" in pre["qr_code"]
    closed = c.call("qianbao.trade.close", {"out_trade_no": "gw-2"})
    assert closed["code"] == "10000"
    assert c.call("qianbao.trade.query", {"out_trade_no": "gw-2"})["trade_status"] == "TRADE_CLOSED"

    code = str(codes.issue_payment_code(p, buyer)["code"])
    paid = c.call(
        "qianbao.trade.pay", {**_biz("gw-3", "5.00"), "scene": "bar_code", "auth_code": code}
    )
    assert paid["code"] == "10000" and paid["buyer_id"] == buyer
    big = str(codes.issue_payment_code(p, buyer)["code"])
    waiting = c.call("qianbao.trade.pay", {**_biz("gw-4", "50.00"), "auth_code": big})
    assert waiting["code"] == "10003"  # above the password-free limit: the buyer confirms
    cancelled = c.call("qianbao.trade.cancel", {"out_trade_no": "gw-3"})
    assert cancelled["action"] == "refund"
    secured = c.call(
        "qianbao.trade.create",
        {**_biz("gw-5", "9.00"), "buyer_id": buyer, "product_code": "SECURED_TRADE"},
    )
    trades.pay(p, secured["trade_no"], buyer, PAY_PASSWORD)
    shipped = c.call("qianbao.trade.ship", {"out_trade_no": "gw-5"})
    assert shipped["trade_status"] == "WAIT_BUYER_CONFIRM_GOODS"
    assert merchant_fen(p, gw.merchant_id) == 10_00 - 6  # fee 0.6% of 12.50, 2.50 refunded
    assert_ledger_clean(p)


@pytest.mark.parametrize(
    "biz,sub_code",
    [
        (
            {"out_trade_no": "b1", "total_amount": "1.001", "subject": "x", "buyer_id": "X"},
            "ACQ.INVALID_ARGUMENT",
        ),
        ({"out_trade_no": "b2", "total_amount": 1.5, "subject": "x"}, "ACQ.INVALID_AMOUNT"),
        ({"out_trade_no": "b3", "total_amount": "-1.00", "subject": "x"}, "ACQ.AMOUNT_INVALID"),
        ({"out_trade_no": "b4", "total_amount": "1.00"}, "ACQ.MISSING_SUBJECT"),
        ({"trade_no": "nope"}, "ACQ.TRADE_NOT_EXIST"),
    ],
)
def test_business_failures_are_40004_with_a_sub_code(gw, biz, sub_code):
    method = "qianbao.trade.query" if "trade_no" in biz else "qianbao.trade.precreate"
    out = gw.client.call(method, biz)
    assert (out["code"], out["sub_code"]) == ("40004", sub_code)
    assert out["_verified"]
    assert _trade_count(gw.p) == 0


def _raw_post(gw, params):
    text = httpx.post(gw.base_url + "/gateway.do", data=params).text
    return text, json.loads(text)


def test_signed_requests_reject_tampering_wrong_keys_old_timestamps_and_replays(gw):
    c, p = gw.client, gw.p
    biz = _biz("sig-1", "1.00")

    params = c.signed_params("qianbao.trade.precreate", biz)
    tampered = {**params, "biz_content": params["biz_content"].replace("1.00", "9.00")}
    out = c.post(tampered)
    assert (out["code"], out["sub_code"]) == ("40002", "isv.invalid-signature")

    other_private, _ = signing.new_key_pair()
    impostor = gw.module.GatewayClient(
        c.url, c.app_id, other_private, gw.creds["platform_public_key"]
    )
    out = impostor.call("qianbao.trade.precreate", biz)
    assert (out["code"], out["sub_code"]) == ("40002", "isv.signature-key-mismatch")
    impostor.http.close()

    old = c.signed_params(
        "qianbao.trade.precreate",
        biz,
        timestamp=datetime.now().astimezone() - timedelta(minutes=10),
    )
    out = c.post(old)
    assert (out["code"], out["sub_code"]) == ("40002", "isv.invalid-timestamp")
    assert _trade_count(p) == 0  # none of the rejected calls changed anything

    good = c.signed_params("qianbao.trade.precreate", biz)
    assert c.post(good)["code"] == "10000"
    out = c.post(good)
    assert (out["code"], out["sub_code"]) == ("40002", "isv.duplicate-request")
    assert _trade_count(p) == 1

    missing = {k: v for k, v in c.signed_params("qianbao.trade.query", biz).items() if k != "sign"}
    assert c.post(missing)["sub_code"] == "isv.missing-sign"
    text, body = _raw_post(gw, {**c.signed_params("qianbao.trade.query", biz), "app_id": "2088x"})
    assert body["qianbao_trade_query_response"]["sub_code"] == "isv.invalid-app-id"
    assert "sign" not in body  # no app, no key to sign with
    out = c.call("qianbao.trade.nosuch", biz)
    assert out["sub_code"] == "isv.invalid-method"
    bad_type = c.signed_params("qianbao.trade.query", biz)
    bad_type["sign_type"] = "RSA"
    assert c.post(bad_type)["sub_code"] == "isv.invalid-signature-type"


def test_out_trade_no_reuse_with_another_amount_is_refused(gw):
    c = gw.client
    assert c.call("qianbao.trade.precreate", _biz("dup", "1.00"))["code"] == "10000"
    later = datetime.now().astimezone() + timedelta(seconds=2)
    retry = c.post(c.signed_params("qianbao.trade.precreate", _biz("dup", "1.00"), timestamp=later))
    assert retry["code"] == "10000"  # the same out_trade_no and body: the first order again
    out = c.call("qianbao.trade.precreate", _biz("dup", "2.00"))
    assert out["sub_code"] == "ACQ.OUT_TRADE_NO_USED"
    with pytest.raises(QianbaoError):
        trades.lookup(gw.p, gw.merchant_id, out_trade_no="other")
