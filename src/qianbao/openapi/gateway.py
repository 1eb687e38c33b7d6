"""The signed gateway (``POST /gateway.do``): check the envelope, then run one trade method.

Envelope checks, in order, each with its own ``sub_code`` (and nothing recorded on failure):
missing parameters (40001), unknown app, unsupported charset / sign type / version, a bad
signature (content altered: ``isv.invalid-signature``; signed with another key:
``isv.signature-key-mismatch``), a timestamp outside the window (``isv.invalid-timestamp``), and
a replayed request (``isv.duplicate-request``, keyed by the signature). Business failures are
code 40004 with ``sub_code`` ``ACQ.<domain code>``. Amounts in ``biz_content`` are yuan strings
with at most two decimals; every response is signed with the platform's key for the app.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qianbao.credit import offers as credit_offers
from qianbao.openapi import apps, notify, outbound, signing
from qianbao.openapi.errors import (
    InstallmentOfferInvalid,
    InvalidAmount,
    InvalidParameter,
    InvalidProductCode,
    InvalidScene,
    InvalidTimeout,
    MissingParameter,
    SubCode,
    TradeNoMissing,
)
from qianbao.payments import paylinks, secured, trades
from qianbao.payments.moneyout import orders as moneyout_orders
from qianbao.payments.moneyout import payouts
from qianbao.payments.moneyout.errors import MoneyOutNotFound
from qianbao.platform.clock import TZ, clock
from qianbao.platform.db import Row
from qianbao.platform.errors import QianbaoError, UnitUnavailable
from qianbao.platform.money import fen_to_yuan, yuan_to_fen
from qianbao.platform.runtime import Platform

REQUIRED = ("app_id", "method", "charset", "sign_type", "timestamp", "version", "sign")
TIMESTAMP_WINDOW_S = 300
PARAM_MAX_CHARS = 8_192
SUCCESS = {"code": "10000", "msg": "Success"}


@dataclass
class GatewayError(Exception):
    code: str
    msg: str
    sub_code: str
    sub_msg: str


@dataclass
class Reply:
    key: str  # "qianbao_trade_create_response"
    body: dict[str, Any]
    private_key: str | None  # None: the app is unknown, nothing to sign with

    def render(self) -> str:
        text = json.dumps(self.body, ensure_ascii=False, separators=(",", ":"))
        out = '{"' + self.key + '":' + text
        if self.private_key:
            out += ',"sign":"' + signing.sign_text(self.private_key, text) + '"'
        return out + "}"


def response_key(method: str) -> str:
    if not re.fullmatch(r"[a-z]+(\.[a-z]+){1,5}", method or ""):
        return "error_response"
    return method.replace(".", "_") + "_response"


def _invalid(sub_code: str, sub_msg: str) -> GatewayError:
    return GatewayError("40002", "Invalid Arguments", sub_code, sub_msg)


def _check_envelope(p: Platform, params: dict[str, str]) -> Row:
    for name in REQUIRED:
        if not params.get(name):
            raise GatewayError(
                "40001",
                "Missing Required Arguments",
                SubCode(f"isv.missing-{name}"),
                f"{name} is required",
            )
    if any(len(v) > PARAM_MAX_CHARS for v in params.values()):
        raise _invalid(SubCode.INVALID_PARAMETER, "a parameter is too long")
    try:
        app = apps.get_app(p, params["app_id"])
    except QianbaoError:
        raise _invalid(SubCode.INVALID_APP_ID, "no such app") from None
    if app["status"] != "ACTIVE":
        raise _invalid(SubCode.APP_UNAVAILABLE, "the app is disabled")
    p.controls.check("app", app["app_id"])  # per app, before the costly signature check
    if params["charset"].lower() not in ("utf-8", "utf8"):
        raise _invalid(SubCode.INVALID_CHARSET, "only utf-8 is supported")
    if params["sign_type"] != "RSA2":
        raise _invalid(SubCode.INVALID_SIGNATURE_TYPE, "only RSA2 is supported")
    if params["version"] != "1.0":
        raise _invalid(SubCode.INVALID_VERSION, "version must be 1.0")
    text = signing.content_to_sign(params)
    if not signing.verify_text(app["app_public_key"], text, params["sign"]):
        if signing.signed_by_key(app["app_public_key"], params["sign"]):
            raise _invalid(
                SubCode.INVALID_SIGNATURE,
                "signature does not match the parameters (were they changed?)",
            )
        raise _invalid(
            SubCode.SIGNATURE_KEY_MISMATCH, "not signed with the app's private key (wrong key?)"
        )
    try:
        sent = datetime.strptime(params["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=TZ)
    except ValueError:
        raise _invalid(SubCode.INVALID_TIMESTAMP, "timestamp must be yyyy-MM-dd HH:mm:ss") from None
    if abs(clock.now_ms() - sent.timestamp() * 1000) > TIMESTAMP_WINDOW_S * 1000:
        raise _invalid(
            SubCode.INVALID_TIMESTAMP,
            f"timestamp is more than {TIMESTAMP_WINDOW_S} s from the server's time",
        )
    _remember(p, params["app_id"], params["sign"])
    return app


def _remember(p: Platform, app_id: str, sign: str) -> None:
    """Each signed request is accepted once within the window (its signature is its nonce)."""
    now = clock.now_ms()
    digest = hashlib.sha256(sign.encode()).hexdigest()
    with p.global_db.transaction() as tx:
        tx.execute(
            "DELETE FROM gateway_seen WHERE seen_at_ms < :cut",
            {"cut": now - 2 * TIMESTAMP_WINDOW_S * 1000},
        )
        fresh = tx.execute(
            "INSERT INTO gateway_seen (app_id, sign_hash, seen_at_ms) VALUES (:a, :h, :now)"
            " ON CONFLICT (app_id, sign_hash) DO NOTHING",
            {"a": app_id, "h": digest, "now": now},
        )
    if not fresh:
        raise _invalid(SubCode.DUPLICATE_REQUEST, "this signed request was already received")


# --- biz_content helpers --------------------------------------------------------------------------
def _str(biz: dict[str, Any], name: str, required: bool = True) -> str:
    value = biz.get(name)
    if value is None or value == "":
        if required:
            raise MissingParameter(name)
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise InvalidParameter(f"{name} must be a string")
    return str(value)


def _yuan(biz: dict[str, Any], name: str) -> int:
    value = biz.get(name)
    if not isinstance(value, str):  # a JSON number would be a float: amounts are strings
        raise InvalidAmount(f'{name} must be a decimal string like "12.34"')
    return yuan_to_fen(value)


def _timeout_minutes(biz: dict[str, Any]) -> int | None:
    text = _str(biz, "timeout_express", required=False)
    if not text:
        return None
    match = re.fullmatch(r"(\d{1,5})([mhd])", text)
    if not match:
        raise InvalidTimeout("timeout_express is like 90m, 2h or 1d")
    return int(match.group(1)) * {"m": 1, "h": 60, "d": 1440}[match.group(2)]


def _product(biz: dict[str, Any]) -> str:
    code = _str(biz, "product_code", required=False) or "FACE_TO_FACE_PAYMENT"
    if code == "SECURED_TRADE":
        return trades.SECURED
    if code in ("FACE_TO_FACE_PAYMENT", "FAST_INSTANT_TRADE_PAY", "QUICK_MSECURITY_PAY"):
        return trades.INSTANT
    raise InvalidProductCode(f"unknown product_code {code}")


def _request(
    p: Platform, app: Row, params: dict[str, str], biz: dict[str, Any]
) -> trades.TradeRequest:
    notify_url = params.get("notify_url") or app["notify_url"]
    notify_url = outbound.checked_notify_url(p.settings, notify_url)
    return trades.TradeRequest(
        merchant_id=app["merchant_id"],
        out_trade_no=_str(biz, "out_trade_no"),
        subject=_str(biz, "subject"),
        total_amount_fen=_yuan(biz, "total_amount"),
        product=_product(biz),
        timeout_minutes=_timeout_minutes(biz),
        app_id=app["app_id"],
        notify_url=notify_url,
    )


def _ref(biz: dict[str, Any]) -> dict[str, str | None]:
    ref = {
        "trade_no": _str(biz, "trade_no", False) or None,
        "out_trade_no": _str(biz, "out_trade_no", False) or None,
    }
    if not any(ref.values()):
        raise TradeNoMissing("trade_no or out_trade_no is required")
    return ref


def _ids(t: Row) -> dict[str, str]:
    return {"trade_no": t["id"] or "", "out_trade_no": t["out_trade_no"]}


OFFER_FIELDS = ("hb_fq_num", "hb_fq_seller_percent")


def _offer(
    p: Platform, req: trades.TradeRequest, biz: dict[str, Any]
) -> credit_offers.InstallmentOffer | None:
    """A Huabei installment offer (花呗分期): ``hb_fq_num`` and ``hb_fq_seller_percent`` (0 or
    100) in ``extend_params`` as Alipay merchants send them, or at the top of biz_content."""
    extend = biz.get("extend_params")
    if extend is not None and not isinstance(extend, dict):
        raise InvalidParameter("extend_params must be a JSON object")
    given: dict[str, Any] = {}
    for source in (extend or {}, biz):
        for name in OFFER_FIELDS:
            if source.get(name) not in (None, ""):
                if name in given and str(given[name]) != str(source[name]):
                    raise InstallmentOfferInvalid(
                        f"{name} differs between biz_content and extend_params"
                    )
                given[name] = source[name]
    if "hb_fq_num" not in given:
        if given:
            raise InstallmentOfferInvalid("hb_fq_seller_percent needs hb_fq_num")
        return None
    return credit_offers.check_offer(
        p,
        given["hb_fq_num"],
        given.get("hb_fq_seller_percent"),
        amount_fen=req.total_amount_fen,
        secured=req.product == trades.SECURED,
    )


def _with_offer(
    p: Platform, req: trades.TradeRequest, biz: dict[str, Any], make: Callable[[], Row]
) -> Row:
    """Open the trade (``make``) carrying the merchant's installment offer, if any: the offer is
    recorded first, and forgotten again if the trade cannot be created."""
    offer = _offer(p, req, biz)
    if offer is None:
        return make()
    credit_offers.declare_offer(p, req.merchant_id, req.out_trade_no, offer)
    try:
        return make()
    except QianbaoError:
        credit_offers.discard_orphan_offer(p, req.merchant_id, req.out_trade_no)
        raise


# --- methods --------------------------------------------------------------------------------------
def m_create(p: Platform, app: Row, params: dict[str, str], biz: dict[str, Any]) -> dict[str, Any]:
    req = _request(p, app, params, biz)
    buyer_id = _str(biz, "buyer_id")
    t = _with_offer(p, req, biz, lambda: trades.create(p, req, buyer_id))
    return {**_ids(t), "pay_url": paylinks.url(p, t["id"])}


def m_precreate(
    p: Platform, app: Row, params: dict[str, str], biz: dict[str, Any]
) -> dict[str, Any]:
    req = _request(p, app, params, biz)
    order = _with_offer(p, req, biz, lambda: trades.precreate(p, req))
    return {"out_trade_no": order["out_trade_no"], "qr_code": order["qr_code"]}


def m_pay(p: Platform, app: Row, params: dict[str, str], biz: dict[str, Any]) -> dict[str, Any]:
    scene = _str(biz, "scene", required=False) or "bar_code"
    if scene != "bar_code":
        raise InvalidScene("scene must be bar_code")
    req = _request(p, app, params, biz)
    auth_code = _str(biz, "auth_code")
    t = _with_offer(p, req, biz, lambda: trades.pay_by_code(p, req, auth_code))
    out = {
        **_ids(t),
        "buyer_id": t["buyer_id"],
        "total_amount": fen_to_yuan(t["total_amount_fen"]),
        "gmt_payment": notify.ms_to_text(t["paid_at_ms"]),
    }
    if t["status"] == trades.WAIT_BUYER_PAY:
        return {"code": "10003", "msg": "Waiting for the buyer to confirm the payment", **out}
    return out


def m_query(p: Platform, app: Row, params: dict[str, str], biz: dict[str, Any]) -> dict[str, Any]:
    t = trades.lookup(p, app["merchant_id"], **_ref(biz))
    return notify.trade_params(t)


def m_refund(p: Platform, app: Row, params: dict[str, str], biz: dict[str, Any]) -> dict[str, Any]:
    amount = _yuan(biz, "refund_amount")
    out_request_no = _str(biz, "out_request_no", required=False) or "DEFAULT"
    r = trades.refund(
        p,
        app["merchant_id"],
        amount,
        out_request_no,
        reason=_str(biz, "refund_reason", required=False),
        **_ref(biz),
    )
    t = trades.get_trade(p, r["trade_id"])
    return {
        **_ids(t),
        "buyer_id": t["buyer_id"],
        "refund_fee": fen_to_yuan(t["refunded_fen"]),
        "send_back_fee": fen_to_yuan(r["amount_fen"]),
        "out_request_no": out_request_no,
        "gmt_refund_pay": notify.ms_to_text(r["created_at_ms"]),
        "fund_change": "Y",
    }


def m_close(p: Platform, app: Row, params: dict[str, str], biz: dict[str, Any]) -> dict[str, Any]:
    return _ids(trades.close(p, app["merchant_id"], **_ref(biz)))


def m_cancel(p: Platform, app: Row, params: dict[str, str], biz: dict[str, Any]) -> dict[str, Any]:
    t, action = trades.cancel(p, app["merchant_id"], **_ref(biz))
    return {**_ids(t), "retry_flag": "N", "action": action}


def m_ship(p: Platform, app: Row, params: dict[str, str], biz: dict[str, Any]) -> dict[str, Any]:
    t = trades.lookup(p, app["merchant_id"], **_ref(biz))
    if t["id"] is None:
        raise trades.refuse(t, "ship")
    shipped = secured.ship(p, app["merchant_id"], t["id"])
    return {
        **_ids(shipped),
        "trade_status": shipped["status"],
        "auto_confirm_time": notify.ms_to_text(shipped["auto_confirm_at_ms"]),
    }


def _payout_out(row: Row) -> dict[str, Any]:
    return {
        "order_id": row["id"],
        "out_biz_no": row["request_id"],
        "amount": fen_to_yuan(int(row["amount_fen"])),
        "status": row["status"],
        "pay_date": notify.ms_to_text(row["updated_at_ms"]),
    }


def m_payout(p: Platform, app: Row, params: dict[str, str], biz: dict[str, Any]) -> dict[str, Any]:
    """商户提现: the settlement balance to the bank account on file (payments/moneyout)."""
    amount = _yuan(biz, "amount")
    row = payouts.request_payout(p, app["merchant_id"], amount, _str(biz, "out_biz_no"))
    return _payout_out(row)


def m_payout_query(
    p: Platform, app: Row, params: dict[str, str], biz: dict[str, Any]
) -> dict[str, Any]:
    out_biz_no = _str(biz, "out_biz_no")
    row = moneyout_orders.find_order(
        p, app["merchant_id"], moneyout_orders.MERCHANT_PAYOUT, out_biz_no
    )
    if row is None:
        raise MoneyOutNotFound("no payout with this out_biz_no")
    return _payout_out(payouts.get_payout(p, app["merchant_id"], row["id"]))


Method = Callable[[Platform, Row, dict[str, str], dict[str, Any]], dict[str, Any]]
METHODS: dict[str, Method] = {
    "qianbao.trade.create": m_create,
    "qianbao.trade.precreate": m_precreate,
    "qianbao.trade.pay": m_pay,
    "qianbao.trade.query": m_query,
    "qianbao.trade.refund": m_refund,
    "qianbao.trade.close": m_close,
    "qianbao.trade.cancel": m_cancel,
    "qianbao.trade.ship": m_ship,
    "qianbao.fund.payout": m_payout,
    "qianbao.fund.payout.query": m_payout_query,
}


def handle(p: Platform, params: dict[str, str]) -> Reply:
    """One gateway call: envelope checks, then the method; never raises for caller mistakes."""
    key = response_key(params.get("method", ""))
    private_key: str | None = None
    try:
        try:
            private_key = apps.platform_private_key(p, apps.get_app(p, params.get("app_id", "")))
        except QianbaoError:
            private_key = None
        app = _check_envelope(p, params)
        method = METHODS.get(params["method"])
        if method is None:
            raise _invalid(SubCode.INVALID_METHOD, f"unknown method {params['method']}")
        try:
            biz = json.loads(params.get("biz_content") or "{}")
        except json.JSONDecodeError:
            raise _invalid(SubCode.INVALID_BIZ_CONTENT, "biz_content is not JSON") from None
        if not isinstance(biz, dict):
            raise _invalid(SubCode.INVALID_BIZ_CONTENT, "biz_content must be a JSON object")
        try:
            result = method(p, app, params, biz)
        except UnitUnavailable:
            raise  # not the merchant's mistake: 503 with Retry-After (the access layer's handler)
        except QianbaoError as exc:
            raise GatewayError("40004", "Business Failed", f"ACQ.{exc.code}", exc.message) from None
        return Reply(key, {**SUCCESS, **result}, private_key)
    except GatewayError as err:
        body = {"code": err.code, "msg": err.msg, "sub_code": err.sub_code, "sub_msg": err.sub_msg}
        return Reply(key, body, private_key)
