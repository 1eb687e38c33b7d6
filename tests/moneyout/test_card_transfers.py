"""Transfer to any bank card (转账到卡): the fee rules to the fen, the bank channel, reversal on
failure, idempotency, and bad input that moves nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from qianbao.channels import reconcile as recon
from qianbao.channels.base import CardRejected
from qianbao.members import service as members
from qianbao.members import vault
from qianbao.members.errors import WrongPayPassword
from qianbao.money_movement.errors import AmountInvalid
from qianbao.payments.moneyout import cards, fees
from qianbao.payments.moneyout.errors import CardNoInvalid, FeeConfigInvalid, HolderNameInvalid
from qianbao.platform.clock import clock
from qianbao.platform.errors import IdempotencyKeyReused, InsufficientBalance
from tests.conftest import assert_ledger_clean, make_platform
from tests.factories import PAY_PASSWORD, new_user
from tests.moneyout.helpers import at, bank_fen, fresh_card
from tests.trades.helpers import balance

DAY = date(2026, 9, 28)
RULES = {
    "card_transfer": {
        "monthly_free_fen": 1000_00,
        "rate": "0.001",
        "min_fee_fen": 1_00,
        "max_fee_fen": 25_00,
    }
}


def test_the_fee_rules_to_the_fen():
    rules = fees.load(RULES).card_transfer
    assert rules.fee(800_00, 0) == (0, 800_00)  # inside the allowance
    assert rules.fee(500_00, 800_00) == (1_00, 200_00)  # 300 CNY feeable: 0.30 → minimum 1.00
    assert rules.fee(2_000_00, 1000_00) == (2_00, 0)  # 0.1% of 2,000 CNY
    assert rules.fee(1_234_56, 1000_00) == (1_23, 0)  # 1.23456 half-up to 1.23
    assert rules.fee(1_234_50 + 5_00, 1000_00) == (1_24, 0)  # 1.2395 → 1.24
    assert rules.fee(50_000_00, 1000_00) == (25_00, 0)  # capped at the maximum
    with pytest.raises(FeeConfigInvalid):
        fees.load({"card_transfer": {"rate": "-0.1"}})
    with pytest.raises(FeeConfigInvalid):
        fees.load({"card_transfer": {"min_fee_fen": 10, "max_fee_fen": 5}})


@pytest.fixture
def ruled(request, tmp_path):
    p = make_platform(getattr(request, "param", "sqlite"), tmp_path, extra={"money_out": RULES})
    try:
        yield p
    finally:
        clock.use_real_time()
        p.close()


@pytest.mark.parametrize("ruled", ["sqlite", "postgres"], indirect=True)
def test_transfers_through_a_month_of_allowance(ruled):
    p = ruled
    at(DAY)
    u = new_user(p, balance_fen=5_000_00)
    card = fresh_card()
    first = cards.transfer_to_card(p, u, card, "李四", 800_00, "ct-1", PAY_PASSWORD, "房租")
    assert (first["status"], first["fee_fen"]) == ("SUCCEEDED", 0)
    opening = bank_fen(p, card) - 800_00
    second = cards.transfer_to_card(p, u, card, "李四", 500_00, "ct-2", PAY_PASSWORD)
    assert (second["fee_fen"], second["free_used_fen"]) == (1_00, 200_00)
    assert cards.quote_fee(p, u, 2_000_00)["fee_fen"] == 2_00
    assert balance(p, u) == 5_000_00 - 800_00 - 500_00 - 1_00
    assert bank_fen(p, card) - opening == 1_300_00
    again = cards.transfer_to_card(p, u, card, "李四", 500_00, "ct-2", PAY_PASSWORD)
    assert again["id"] == second["id"] and balance(p, u) == 3_699_00
    with pytest.raises(IdempotencyKeyReused):
        cards.transfer_to_card(p, u, card, "李四", 501_00, "ct-2", PAY_PASSWORD)
    with pytest.raises(IdempotencyKeyReused):
        cards.transfer_to_card(p, u, card, "李五", 500_00, "ct-2", PAY_PASSWORD)
    at(DAY + timedelta(days=4))  # October: a new allowance
    october = cards.transfer_to_card(p, u, card, "李四", 900_00, "ct-3", PAY_PASSWORD)
    assert october["fee_fen"] == 0
    assert_ledger_clean(p)
    report = recon.reconcile(p, "SIMBANK", DAY)
    assert report.status == recon.BALANCED, report.as_dict()


def test_a_declined_transfer_gives_back_money_fee_and_allowance(ruled):
    p = ruled
    u = new_user(p, balance_fen=2_000_00)
    card = fresh_card()
    cards.transfer_to_card(p, u, card, "王五", 1000_00, "a", PAY_PASSWORD)  # uses the allowance
    p.channels["SIMBANK"].failure_rate = 1.0
    failed = cards.transfer_to_card(p, u, card, "王五", 500_00, "b", PAY_PASSWORD)
    p.channels["SIMBANK"].failure_rate = 0.0
    assert (failed["status"], failed["fee_fen"]) == ("FAILED", 1_00)
    assert balance(p, u) == 1_000_00
    assert cards.get_card_transfer(p, u, failed["id"])["status"] == "FAILED"
    assert_ledger_clean(p)


def test_bad_input_moves_nothing(ruled):
    p = ruled
    u = new_user(p, balance_fen=100_00)
    other = new_user(p, name="赵六")
    their_card = vault.card_number(p, members.list_cards(p, other)[0])
    with pytest.raises(CardRejected):  # the bank knows this card under another name
        cards.transfer_to_card(p, u, their_card, "李四", 10_00, "r1", PAY_PASSWORD)
    with pytest.raises(CardNoInvalid):
        cards.transfer_to_card(p, u, "6222000000000001", "李四", 10_00, "r2", PAY_PASSWORD)
    with pytest.raises(HolderNameInvalid):
        cards.transfer_to_card(p, u, fresh_card(), " ", 10_00, "r3", PAY_PASSWORD)
    with pytest.raises(AmountInvalid):
        cards.transfer_to_card(p, u, fresh_card(), "李四", 0, "r4", PAY_PASSWORD)
    with pytest.raises(WrongPayPassword):
        cards.transfer_to_card(p, u, fresh_card(), "李四", 10_00, "r5", "000000")
    with pytest.raises(InsufficientBalance):
        cards.transfer_to_card(p, u, fresh_card(), "李四", 100_01, "r6", PAY_PASSWORD)
    assert balance(p, u) == 100_00
    assert cards.list_card_transfers(p, u) == []
    assert_ledger_clean(p)
