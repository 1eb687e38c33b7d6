"""``POST /api/v1/merchant/payments/batch``: a merchant submits up to 100 scanned payment
codes (付款码) at once, e.g. a till that queued them while offline, or a chain's collector.

Each item is one ``trades.pay_by_code`` (the same rules as the gateway's ``trade.pay``: the
buyer's one-time code, the password-free limit, risk, the merchant's contract), keyed by the
merchant's ``out_trade_no``: the same item again (its code now spent on its trade) returns the
first outcome and moves nothing.
Items run concurrently, so the unit writers commit many of them in one group commit; each item
has its own answer, a bad one does not stop the others. Authorised by the merchant's API key,
as every ``/api/v1/merchant`` endpoint.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from qianbao.api.deps import MerchantId, PlatformDep
from qianbao.api.errors import DuplicateInBatch
from qianbao.api.models import Body
from qianbao.payments import trades
from qianbao.payments.errors import PaymentCodeUnknown, TradeNotExist
from qianbao.platform.db import Row
from qianbao.platform.errors import IdempotencyKeyReused, InvalidArgument, QianbaoError
from qianbao.platform.runtime import Platform

router = APIRouter(prefix="/api/v1/merchant", tags=["merchant"])
BATCH_MAX = 100
ITEM_FIELDS = {"out_trade_no", "auth_code", "amount_fen", "subject"}
DEFAULT_SUBJECT = "付款码支付"


class BatchIn(Body):
    items: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=BATCH_MAX)] = Field(
        description="Each `{out_trade_no, auth_code, amount_fen, subject?}`: the merchant's own"
        " order number (the idempotency key), the buyer's 18-digit payment code, the amount in"
        " fen. Each item is checked on its own: a bad one gets its own 4xx answer."
    )


def _request(merchant_id: str, item: dict[str, Any]) -> tuple[trades.TradeRequest, str]:
    """The item as a trade request and its code, or ``InvalidArgument`` for this item."""
    extra = set(item) - ITEM_FIELDS
    if extra:
        raise InvalidArgument(f"unknown field(s) {sorted(extra)}")
    out_trade_no, code = item.get("out_trade_no"), item.get("auth_code")
    amount, subject = item.get("amount_fen"), item.get("subject", DEFAULT_SUBJECT)
    if not isinstance(out_trade_no, str) or not isinstance(code, str):
        raise InvalidArgument("out_trade_no and auth_code are required strings")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise InvalidArgument("amount_fen must be an integer (fen)")
    if not isinstance(subject, str):
        raise InvalidArgument("subject must be a string")
    return trades.TradeRequest(merchant_id, out_trade_no, subject, amount), code


def _refused(out_trade_no: Any, exc: QianbaoError) -> dict[str, Any]:
    return {
        "out_trade_no": out_trade_no,
        "status": exc.http_status,
        "code": str(exc.code),
        "message": exc.message,
    }


def pay_one(p: Platform, merchant_id: str, item: dict[str, Any]) -> dict[str, Any]:
    """One item's answer: the trade (``status`` 200), or its refusal (its own 4xx/503)."""
    try:
        req, code = _request(merchant_id, item)
        try:
            trade = trades.pay_by_code(p, req, code)
        except PaymentCodeUnknown:
            trade = _earlier(p, req)  # the same item again: its code is spent on its trade
    except QianbaoError as exc:
        return _refused(item.get("out_trade_no"), exc)
    return {
        "out_trade_no": trade["out_trade_no"],
        "status": 200,
        "trade_no": trade["id"],
        "trade_status": trade["status"],  # WAIT_BUYER_PAY: above the buyer's password-free limit
        "buyer_id": trade["buyer_id"],
        "total_amount_fen": trade["total_amount_fen"],
    }


def _earlier(p: Platform, req: trades.TradeRequest) -> Row:
    """The trade an earlier submission of this item opened, or the code's refusal again. The
    same ``out_trade_no`` with another amount or subject is ``IDEMPOTENCY_KEY_REUSED``."""
    try:
        trade = trades.lookup(p, req.merchant_id, out_trade_no=req.out_trade_no)
    except TradeNotExist:
        raise PaymentCodeUnknown("payment code unknown, used or expired") from None
    if trade["id"] is None:
        raise PaymentCodeUnknown("payment code unknown, used or expired")
    if (trade["total_amount_fen"], trade["subject"]) != (req.total_amount_fen, req.subject):
        raise IdempotencyKeyReused("this out_trade_no was used with another amount or subject")
    return trade


def _duplicates(items: list[dict[str, Any]]) -> set[int]:
    """The positions repeating an earlier item's ``out_trade_no`` in the same batch."""
    seen: set[str] = set()
    again = set()
    for i, item in enumerate(items):
        key = item.get("out_trade_no")
        if isinstance(key, str):
            if key in seen:
                again.add(i)
            seen.add(key)
    return again


@router.post(
    "/payments/batch",
    summary=f"Pay up to {BATCH_MAX} scanned payment codes at once (each item its own answer)",
)
async def pay_batch(body: BatchIn, p: PlatformDep, merchant_id: MerchantId) -> dict[str, Any]:
    """The answers in the items' order, each `{out_trade_no, status, ...}`: `status` 200 with
    `trade_no` and `trade_status`, or the item's own error `status`, `code` and `message`. The
    same `out_trade_no` twice in one batch: the second is refused (`DUPLICATE_IN_BATCH`)."""
    p.controls.check("merchant", merchant_id)  # a hot merchant's own limit, once per call
    again = _duplicates(body.items)
    duplicate = DuplicateInBatch("this out_trade_no is already an earlier item of this batch")
    answers: list[dict[str, Any]] = [
        _refused(item.get("out_trade_no"), duplicate) for item in body.items
    ]
    todo = [i for i in range(len(body.items)) if i not in again]
    paid = await asyncio.gather(
        *(run_in_threadpool(pay_one, p, merchant_id, body.items[i]) for i in todo)
    )
    for i, answer in zip(todo, paid, strict=True):
        answers[i] = answer
    succeeded = sum(1 for a in answers if a["status"] == 200)
    return {"succeeded": succeeded, "refused": len(answers) - succeeded, "results": answers}
