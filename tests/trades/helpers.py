"""Builders shared by the trade tests (real services, no mocks)."""

from __future__ import annotations

import itertools
import uuid

from qianbao.ledger.chart import unit_account
from qianbao.members import service as members
from qianbao.payments import service as payments
from qianbao.payments import trades
from qianbao.platform.runtime import Platform

_seq = itertools.count(1)


def new_merchant(p: Platform, fee_rate: str = "0.006") -> str:
    from decimal import Decimal

    row, _ = members.create_merchant(p, f"商户{uuid.uuid4().hex[:8]}", Decimal(fee_rate))
    return str(row["id"])


def req(merchant_id: str, amount_fen: int, **kw: object) -> trades.TradeRequest:
    defaults: dict[str, object] = {"subject": "测试商品"}
    defaults.update(kw)
    out = str(defaults.pop("out_trade_no", f"T{next(_seq):06d}{uuid.uuid4().hex[:6]}"))
    return trades.TradeRequest(merchant_id, out, total_amount_fen=amount_fen, **defaults)  # type: ignore[arg-type]


def balance(p: Platform, user_id: str) -> int:
    return payments.balance(p, user_id)["balance_fen"]


def merchant_fen(p: Platform, merchant_id: str) -> int:
    return int(payments.merchant_balance(p, merchant_id)["balance_fen"])


def account_fen(p: Platform, subject: str, unit: int) -> int:
    with p.units[unit].read() as tx:
        return int(
            tx.scalar(
                "SELECT balance_fen FROM accounts WHERE id = :id",
                {"id": unit_account(subject, unit)},
            )
            or 0
        )
