"""Secured trades (担保交易), payment codes (付款码), QR images and card quick pay."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest

from qianbao.members import service as members
from qianbao.members.vault import card_number
from qianbao.payments import codes, secured, trades
from qianbao.platform.clock import clock
from qianbao.platform.errors import QianbaoError
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, card_of, new_user
from tests.trades.helpers import account_fen, balance, merchant_fen, new_merchant, req


def _secured(p, m, buyer, amount_fen):
    t = trades.create(p, req(m, amount_fen, product=trades.SECURED), buyer)
    return trades.pay(p, t["id"], buyer, PAY_PASSWORD)


def test_secured_trade_pays_into_escrow_and_releases_on_confirmation(platform):
    p = platform
    m = new_merchant(p)
    buyer = new_user(p, unit=0, balance_fen=500_00)
    t = _secured(p, m, buyer, 200_00)
    assert t["status"] == trades.WAIT_SELLER_SEND_GOODS and t["fee_fen"] == 0
    assert account_fen(p, "escrow", 0) == 200_00 and merchant_fen(p, m) == 0
    with pytest.raises(QianbaoError) as e:  # nothing to confirm before shipping
        secured.confirm_receipt(p, buyer, t["id"], PAY_PASSWORD)
    assert e.value.code == "TRADE_STATUS_ERROR"
    shipped = secured.ship(p, m, t["id"])
    assert shipped["status"] == trades.WAIT_BUYER_CONFIRM_GOODS
    assert shipped["auto_confirm_at_ms"] - shipped["shipped_at_ms"] == 10 * trades.DAY_MS
    with pytest.raises(QianbaoError):
        secured.ship(p, m, t["id"])
    done = secured.confirm_receipt(p, buyer, t["id"], PAY_PASSWORD)
    assert done["status"] == trades.TRADE_FINISHED and done["fee_fen"] == 1_20
    assert merchant_fen(p, m) == 200_00 - 1_20 and account_fen(p, "escrow", 0) == 0
    with pytest.raises(QianbaoError) as e:
        trades.refund(p, m, 1_00, "late", trade_no=t["id"])
    assert e.value.code == "TRADE_HAS_FINISHED"
    assert_ledger_clean(p)


def test_auto_confirm_runs_on_the_business_clock(sqlite_platform):
    p = sqlite_platform
    clock.set(datetime(2026, 5, 1, 12, 0))
    p.settings.extra["trade_auto_confirm_days"] = 7
    try:
        m = new_merchant(p)
        buyer = new_user(p, balance_fen=100_00)
        t = _secured(p, m, buyer, 50_00)
        secured.ship(p, m, t["id"])
        clock.advance(timedelta(days=6, hours=23))
        assert secured.run_due_jobs(p)["auto_confirmed"] == 0
        clock.advance(timedelta(hours=2))
        assert secured.run_due_jobs(p)["auto_confirmed"] == 1
        assert trades.get_trade(p, t["id"])["status"] == trades.TRADE_FINISHED
        assert merchant_fen(p, m) == 50_00 - 30
        assert secured.run_due_jobs(p)["auto_confirmed"] == 0
    finally:
        p.settings.extra.pop("trade_auto_confirm_days")
    assert_ledger_clean(p)


def test_refund_before_shipping_and_by_agreement_after(sqlite_platform):
    p = sqlite_platform
    m = new_merchant(p)
    buyer = new_user(p, balance_fen=100_00)
    a = _secured(p, m, buyer, 40_00)
    trades.refund(p, m, 10_00, "a1", trade_no=a["id"])  # partial, before shipping
    assert trades.get_trade(p, a["id"])["status"] == trades.WAIT_SELLER_SEND_GOODS
    trades.refund(p, m, 30_00, "a2", trade_no=a["id"])
    assert trades.get_trade(p, a["id"])["status"] == trades.TRADE_CLOSED
    b = _secured(p, m, buyer, 40_00)
    secured.ship(p, m, b["id"])
    trades.refund(p, m, 15_00, "b1", trade_no=b["id"])  # the seller agrees to a partial refund
    done = secured.confirm_receipt(p, buyer, b["id"], PAY_PASSWORD)
    assert done["released_fen"] == 25_00 and done["fee_fen"] == 15
    assert balance(p, buyer) == 100_00 - 25_00
    assert merchant_fen(p, m) == 25_00 - 15
    assert_ledger_clean(p)


def test_dispute_freezes_until_the_operator_splits(sqlite_platform):
    p = sqlite_platform
    clock.set(datetime(2026, 6, 1, 8, 0))
    m = new_merchant(p)
    buyer = new_user(p, balance_fen=100_00)
    t = _secured(p, m, buyer, 100_00)
    secured.ship(p, m, t["id"])
    with pytest.raises(QianbaoError):
        secured.open_dispute(p, new_user(p), t["id"])  # a stranger cannot
    frozen = secured.open_dispute(p, buyer, t["id"], "goods never arrived")
    assert frozen["status"] == trades.TRADE_DISPUTED
    for action in (
        lambda: trades.refund(p, m, 1_00, "x", trade_no=t["id"]),
        lambda: secured.confirm_receipt(p, buyer, t["id"], PAY_PASSWORD),
        lambda: secured.ship(p, m, t["id"]),
    ):
        with pytest.raises(QianbaoError) as e:
            action()
        assert e.value.code == "TRADE_IN_DISPUTE"
    clock.advance(timedelta(days=30))
    assert secured.run_due_jobs(p)["auto_confirmed"] == 0  # frozen: no auto-confirm
    with pytest.raises(QianbaoError) as e:
        secured.resolve_dispute(p, "op1", t["id"], "split", buyer_fen=100_00)
    assert e.value.code == "SPLIT_INVALID"
    done = secured.resolve_dispute(p, "op1", t["id"], "split", buyer_fen=60_00)
    assert done["status"] == trades.TRADE_FINISHED and done["released_fen"] == 40_00
    assert balance(p, buyer) == 60_00 and merchant_fen(p, m) == 40_00 - 24
    with pytest.raises(QianbaoError):
        secured.resolve_dispute(p, "op1", t["id"], "refund")
    assert_ledger_clean(p)


@pytest.mark.parametrize(
    "decision,buyer_back,status",
    [("release", 0, trades.TRADE_FINISHED), ("refund", 30_00, trades.TRADE_CLOSED)],
)
def test_dispute_release_or_refund(sqlite_platform, decision, buyer_back, status):
    p = sqlite_platform
    m = new_merchant(p)
    buyer = new_user(p, balance_fen=30_00)
    t = _secured(p, m, buyer, 30_00)
    secured.open_dispute(p, m, t["id"])  # the seller may dispute too, before shipping
    assert secured.resolve_dispute(p, "op1", t["id"], decision)["status"] == status
    assert balance(p, buyer) == buyer_back
    assert_ledger_clean(p)


def test_compensation_is_paid_from_the_platform_and_booked(sqlite_platform):
    p = sqlite_platform
    m = new_merchant(p)
    buyer = new_user(p, unit=1, balance_fen=80_00)
    t = _secured(p, m, buyer, 80_00)
    secured.ship(p, m, t["id"])
    secured.confirm_receipt(p, buyer, t["id"], PAY_PASSWORD)
    with pytest.raises(QianbaoError) as e:
        secured.compensate(p, "op1", t["id"], 80_01, "fraud proven")
    assert e.value.code == "COMPENSATION_EXCEEDED"
    secured.compensate(p, "op1", t["id"], 80_00, "seller sent a brick; police report 123")
    with pytest.raises(QianbaoError) as e:
        secured.compensate(p, "op1", t["id"], 1_00, "again")
    assert e.value.code == "ALREADY_COMPENSATED"
    assert balance(p, buyer) == 80_00
    assert account_fen(p, "compensation_expense", 1) == 80_00
    assert_ledger_clean(p)


def test_instant_trades_refuse_secured_actions(sqlite_platform):
    p = sqlite_platform
    m = new_merchant(p)
    buyer = new_user(p, balance_fen=10_00)
    t = trades.pay(p, trades.create(p, req(m, 1_00), buyer)["id"], buyer, PAY_PASSWORD)
    with pytest.raises(QianbaoError) as e:
        secured.ship(p, m, t["id"])
    assert e.value.code == "TRADE_NOT_SECURED"


# --- payment codes --------------------------------------------------------------------------------
def test_payment_code_is_single_use_bound_and_short_lived(sqlite_platform):
    p = sqlite_platform
    clock.set(datetime(2026, 7, 1, 9, 0))
    m = new_merchant(p)
    buyer = new_user(p, unit=1, balance_fen=100_00, password_free_fen=50_00)
    issued = codes.issue_payment_code(p, buyer)
    code = str(issued["code"])
    assert len(code) == 18 and code.isdigit() and code.startswith("28")
    paid = trades.pay_by_code(p, req(m, 12_00), code)
    assert paid["status"] == trades.TRADE_SUCCESS and paid["buyer_id"] == buyer
    with pytest.raises(QianbaoError) as e:
        trades.pay_by_code(p, req(m, 12_00), code)
    assert e.value.code == "PAYMENT_CODE_INVALID"
    late = str(codes.issue_payment_code(p, buyer)["code"])
    clock.advance(timedelta(seconds=61))
    with pytest.raises(QianbaoError) as e:
        trades.pay_by_code(p, req(m, 1_00), late)
    assert e.value.code == "PAYMENT_CODE_INVALID"
    for bad in ("123", "2800000000000000000", "180000000000000001"):
        with pytest.raises(QianbaoError):
            trades.pay_by_code(p, req(m, 1_00), bad)
    # above the password-free limit the trade waits for the buyer and the code stays unused
    big = str(codes.issue_payment_code(p, buyer)["code"])
    waiting = trades.pay_by_code(p, req(m, 60_00), big)
    assert waiting["status"] == trades.WAIT_BUYER_PAY
    assert codes.buyer_of_code(p, big) == buyer
    assert balance(p, buyer) == 100_00 - 12_00
    assert_ledger_clean(p)


def test_qr_images_are_real_png_and_svg(sqlite_platform):
    m = new_merchant(sqlite_platform)
    content = codes.merchant_qr_content(sqlite_platform, m)
    png = codes.qr_png(content)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 300
    svg = codes.qr_svg(content)
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "path" in svg


def test_static_qr_pays_an_amount_typed_by_the_buyer(sqlite_platform):
    p = sqlite_platform
    m = new_merchant(p)
    buyer = new_user(p, balance_fen=10_00)
    t = trades.pay_static_qr(p, m, buyer, 3_50, PAY_PASSWORD, "scan-1")
    assert t["status"] == trades.TRADE_SUCCESS and t["total_amount_fen"] == 3_50
    again = trades.pay_static_qr(p, m, buyer, 3_50, PAY_PASSWORD, "scan-1")
    assert again["id"] == t["id"] and balance(p, buyer) == 6_50


# --- card quick pay -------------------------------------------------------------------------------
def _card_no(p, user_id):
    return card_number(p, members.get_card(p, user_id, card_of(p, user_id)))


def test_card_quick_pay_and_refund_go_back_to_the_card(sqlite_platform):
    p = sqlite_platform
    bank = p.channels["SIMBANK"]
    m = new_merchant(p)
    buyer = new_user(p)
    card_no = _card_no(p, buyer)
    before = bank.balance_fen(card_no)
    t = trades.create(p, req(m, 25_00), buyer)
    paid = trades.pay(
        p, t["id"], buyer, PAY_PASSWORD, funding=trades.CARD, card_id=card_of(p, buyer)
    )
    assert paid["funding"] == trades.CARD and balance(p, buyer) == 0
    assert bank.balance_fen(card_no) == before - 25_00
    trades.refund(p, m, 5_00, "c1", trade_no=t["id"])
    assert bank.balance_fen(card_no) == before - 20_00
    assert_ledger_clean(p)


def test_card_payment_failing_half_way_moves_no_money(sqlite_platform):
    """The card is charged, then the trade is found paid by another path: the charge is
    reversed to the card, and the buyer's money ends where it started."""
    p = sqlite_platform
    bank = p.channels["SIMBANK"]
    m = new_merchant(p)
    buyer = new_user(p, balance_fen=25_00)
    card_no = _card_no(p, buyer)
    before = bank.balance_fen(card_no)
    t = trades.create(p, req(m, 25_00), buyer)
    bank.latency_ms = 300  # the card charge is slow ...
    errors: list[str] = []

    def by_card() -> None:
        try:
            trades.pay(
                p, t["id"], buyer, PAY_PASSWORD, funding=trades.CARD, card_id=card_of(p, buyer)
            )
        except QianbaoError as exc:
            errors.append(exc.code)

    worker = threading.Thread(target=by_card)
    worker.start()
    time.sleep(0.1)
    bank.latency_ms = 0
    trades.pay(p, t["id"], buyer, PAY_PASSWORD)  # ... and the balance pays first
    worker.join()
    assert errors == ["TRADE_HAS_SUCCESS"]
    assert bank.balance_fen(card_no) == before  # charged and reversed
    assert balance(p, buyer) == 0 and merchant_fen(p, m) == 25_00 - 15
    assert_ledger_clean(p)
