"""Every command of money out, bill payment and full-reduction offers is plain data: it travels
as JSON (to a unit process) and comes back equal."""

from __future__ import annotations

import json

from qianbao.billpay import autopay
from qianbao.billpay import service as billpay
from qianbao.marketing.reductions import service as reductions
from qianbao.payments.moneyout import orders, payouts


def test_commands_round_trip_as_json(sqlite_platform):
    p = sqlite_platform
    commands = [
        orders.OpenMoneyOut(
            "1",
            "CARD_TRANSFER",
            "u",
            "r",
            "user_balance:u",
            "SIMBANK",
            "6225",
            "李四",
            100,
            "memo",
            5_000_00,
            2_000_000,
            "0.001",
            100,
            2500,
        ),
        orders.SettleMoneyOut("1", "SUCCEEDED"),
        payouts.SweepMerchant("2", "m", 100, 0),
        billpay.CreateBillPayment(
            "3", "u", "r", "W1", "m", "a", "张三", "b", "2026-01", 100, "BALANCE"
        ),
        billpay.SettleBill("3", "FAILED", "", "no", "4", "T1"),
        billpay.CloseBillPayment("3"),
        autopay.SignAgreement("5", "u", "W1", "a", 100),
        autopay.CancelAgreement("5", "u"),
        reductions.OpenReductionBudget("6", 100),
    ]
    for command in commands:
        wire = json.dumps(p.commands.encode(command), ensure_ascii=False)
        assert p.commands.decode(json.loads(wire)) == command
