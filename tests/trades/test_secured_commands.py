"""Secured-trade follow-ups are commands as data: each travels as JSON unchanged, and a decoded
command does the same money work as the service call (so a unit process can run it)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qianbao.channels.resolve import BookSuspense
from qianbao.openapi import notify
from qianbao.payments import codes, secured, trades
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.risk.service import MoveChallenge
from qianbao.scoring.service import RecordScore
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, new_user
from tests.trades.helpers import account_fen, balance, merchant_fen, new_merchant, req

COMMANDS: list[Any] = [
    secured.ShipTrade("t-1", 10),
    secured.ConfirmReceipt("t-1"),
    secured.OpenDispute("t-1"),
    secured.ResolveDispute("t-1", "op-1", "split", 60_00, "半数 half", "rf-1"),
    secured.CompensateTrade("t-1", "op-1", 5_00, "fraud proven", "cp-1"),
    secured.AutoConfirm("t-1"),
    secured.FinishTrade("t-1"),
]
OTHERS: list[Any] = [  # trade close, the code's funding choice, a step-up challenge's move
    trades.CloseTrade("t-1", "merchant"),
    trades.CloseOrder("o-1"),
    codes.SetCodeFunding("u-1", "HUABEI", 1_700_000_000_000),
    MoveChallenge("ch-1", "PENDING", {"attempts": 2, "code_id": "c-1"}),
    notify.ResendNotify("nt-1"),
    RecordScore(
        {
            "id": "sc-1",
            "user_id": "u-1",
            "score": 712,
            "card_version": "v3",
            "reason": "APPLICATION",
        },
        {"income": "10000-20000", "years_at_job": 3},
        "score-1",
    ),
    BookSuspense("BANK", "2026-06-01", "stray-1", {"kind": "payout", "bank_amount_fen": 120}),
]


def _wired(p: Platform, command: Any) -> Any:
    """``command`` after the trip a unit process's request makes: encoded, JSON, decoded."""
    return p.commands.decode(json.loads(json.dumps(p.commands.encode(command))))


def _run(p: Platform, trade_id: str, command: Any) -> Any:
    return p.commands.submit(p.unit_of(trade_id), _wired(p, command))


def _paid_secured(p: Platform, amount_fen: int) -> tuple[str, str, str]:
    m = new_merchant(p)
    buyer = new_user(p, unit=0, balance_fen=500_00)
    t = trades.create(p, req(m, amount_fen, product=trades.SECURED), buyer)
    return m, buyer, trades.pay(p, t["id"], buyer, PAY_PASSWORD)["id"]


def test_every_secured_command_travels_as_json_unchanged(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    for command in COMMANDS + OTHERS:
        assert _wired(p, command) == command
    assert set(secured.COMMANDS) == {type(c) for c in COMMANDS}


def test_decoded_ship_and_confirm_release_escrow_once(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    m, _buyer, tid = _paid_secured(p, 200_00)
    shipped = _run(p, tid, secured.ShipTrade(tid, 10))
    assert shipped["status"] == trades.WAIT_BUYER_CONFIRM_GOODS
    assert shipped["auto_confirm_at_ms"] - shipped["shipped_at_ms"] == 10 * trades.DAY_MS
    done = _run(p, tid, secured.ConfirmReceipt(tid))
    assert done["status"] == trades.TRADE_FINISHED and done["fee_fen"] == 1_20
    assert merchant_fen(p, m) == 200_00 - 1_20 and account_fen(p, "escrow", 0) == 0
    with pytest.raises(QianbaoError) as e:  # confirming again moves nothing
        _run(p, tid, secured.ConfirmReceipt(tid))
    assert e.value.code == "TRADE_HAS_FINISHED"
    assert merchant_fen(p, m) == 200_00 - 1_20
    assert_ledger_clean(p)


def test_decoded_dispute_split_and_compensation(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    m, buyer, tid = _paid_secured(p, 100_00)
    assert _run(p, tid, secured.OpenDispute(tid))["status"] == trades.TRADE_DISPUTED
    with pytest.raises(QianbaoError) as e:
        _run(p, tid, secured.ResolveDispute(tid, "op-1", "split", 100_00, "", "rf-x"))
    assert e.value.code == "SPLIT_INVALID"
    refund_id = f"{tid}-rf"
    done = _run(p, tid, secured.ResolveDispute(tid, "op-1", "split", 60_00, "半", refund_id))
    assert done["status"] == trades.TRADE_FINISHED and done["released_fen"] == 40_00
    assert balance(p, buyer) == 500_00 - 100_00 + 60_00 and merchant_fen(p, m) == 40_00 - 24
    with pytest.raises(QianbaoError):  # resolved once
        _run(p, tid, secured.ResolveDispute(tid, "op-1", "refund", 0, "", refund_id))
    comp = secured.CompensateTrade(tid, "op-1", 5_00, "fraud proven", f"{tid}-cp")
    assert _run(p, tid, comp)["amount_fen"] == 5_00
    with pytest.raises(QianbaoError) as e:  # paid once per trade
        _run(p, tid, comp)
    assert e.value.code == "ALREADY_COMPENSATED"
    assert balance(p, buyer) == 500_00 - 100_00 + 60_00 + 5_00
    assert_ledger_clean(p)


def test_decoded_close_closes_an_unpaid_trade_once(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    m = new_merchant(p)
    buyer = new_user(p, unit=0, balance_fen=50_00)
    t = trades.create(p, req(m, 20_00, product=trades.SECURED), buyer)
    closed = _run(p, t["id"], trades.CloseTrade(t["id"], "timeout"))
    assert closed["status"] == trades.TRADE_CLOSED
    assert _run(p, t["id"], trades.CloseTrade(t["id"], "timeout")) == closed  # a repeat: as is
    with pytest.raises(QianbaoError):  # the merchant's close of a closed trade is refused
        _run(p, t["id"], trades.CloseTrade(t["id"], "merchant"))
    order = _run(p, t["order_id"], trades.CloseOrder(t["order_id"]))
    assert order["id"] == t["order_id"]
    assert balance(p, buyer) == 50_00
    assert_ledger_clean(p)
