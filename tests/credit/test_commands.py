"""Credit's writes are commands as data: each travels as JSON unchanged, and a decoded ``Repay``
replayed with the same request id answers the first result and moves nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qianbao.credit import installments, lines, offers, repayments
from qianbao.credit import service as credit
from qianbao.platform.errors import IdempotencyKeyReused
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.runtime import Platform
from tests.conftest import assert_ledger_clean
from tests.credit.helpers import counters_match_ledger, huabei_user, merchant
from tests.trades.helpers import balance

USER = "u-commands-1"
COMMANDS: list[Any] = [
    lines.OpenCreditLine(
        user_id=USER,
        request_id="open-1",
        due_day=10,
        id_number_hash="a3f0c1",
        phone="13800000000",
        line_fen=300_000,
        interest_rate="0.0005",
        interest_band="",
        interest_priced_by="default rate",
        reason="KYC 2 base 3000.00; daily interest 0.0005 (default rate)",
    ),
    lines.RequestLineIncrease("chg-1", USER, 450_000, "raise-1"),
    lines.SetLine("op-1", USER, 200_000, "风险复核"),
    lines.FreezeCredit("op-1", USER, True, "suspected fraud"),
    lines.SetAutodebit(USER, False),
    repayments.Repay("rep-1", USER, 12_34, "repay-1", "BALANCE", None),
    repayments.Repay("rep-2", USER, 56_78, "repay-2", "CARD", "card-1"),
    installments.InstallBill("plan-1", USER, "st-1", 6, "install-1"),
    installments.SettlePlan(USER, "plan-1", "settle-1"),
    installments.InstallPurchase("plan-2", USER, "pur-1", 3, "install-2"),
    offers.DeclareOffer("m-1", "out-1", 6, 100),
    offers.DiscardOrphanOffer("m-1", "out-1"),
]


def _wire(p: Platform, command: Any) -> str:
    return json.dumps(p.commands.encode(command))


def test_every_credit_command_travels_as_json_unchanged(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    for command in COMMANDS:
        assert p.commands.decode(json.loads(_wire(p, command))) == command
    registered = {
        kind
        for kind in p.commands._types.values()  # the handler table has no public listing
        if kind.__module__.startswith("qianbao.credit.")
    }
    assert registered == {type(c) for c in COMMANDS}


def test_a_decoded_repay_replays_to_the_first_answer(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    user = huabei_user(p, balance_fen=500_00)
    credit.pay_merchant_with_huabei(p, user, merchant(p), 300_00, "cmd-buy")
    command = repayments.Repay(new_id(bucket_of(user)), user, 120_00, "cmd-repay", "BALANCE")
    wire = _wire(p, command)
    first = p.commands.submit(p.unit_of(user), p.commands.decode(json.loads(wire)))
    after_first = (balance(p, user), credit.summary(p, user)["owed_now_fen"])
    replay = p.commands.submit(p.unit_of(user), p.commands.decode(json.loads(wire)))
    assert dict(replay) == dict(first)
    assert first["id"] == command.repayment_id
    assert after_first == (500_00 - 120_00, 300_00 - 120_00)
    assert (balance(p, user), credit.summary(p, user)["owed_now_fen"]) == after_first
    assert len(credit.repayments(p, user)) == 1
    counters_match_ledger(p, user)
    assert_ledger_clean(p)
    other = repayments.Repay(new_id(bucket_of(user)), user, 1_00, "cmd-repay", "BALANCE")
    with pytest.raises(IdempotencyKeyReused):
        p.commands.submit(p.unit_of(user), other)
    assert balance(p, user) == 500_00 - 120_00  # another body under the key changed nothing
