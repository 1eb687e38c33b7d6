"""The merchant's daily bill reconciles to the fen with the ledger."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from qianbao.payments import secured, settlement, trades
from qianbao.platform.clock import clock
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, new_user
from tests.trades.helpers import new_merchant, req


def test_daily_bill_reconciles_with_the_ledger(sqlite_platform):
    p = sqlite_platform
    clock.set(datetime(2026, 8, 3, 9, 0))
    day = clock.today()
    m = new_merchant(p, fee_rate="0.0055")
    buyers = [new_user(p, unit=u, balance_fen=1_000_00) for u in (0, 1)]
    paid = []
    for i, amount in enumerate([1_23, 45_67, 100_00, 9_99, 3_33]):
        buyer = buyers[i % 2]
        t = trades.create(p, req(m, amount), buyer)
        paid.append(trades.pay(p, t["id"], buyer, PAY_PASSWORD))
        clock.advance(timedelta(minutes=7))
    trades.refund(p, m, 10_00, "r1", trade_no=paid[2]["id"])
    trades.refund(p, m, 9_99, "r2", trade_no=paid[3]["id"])
    s = trades.pay(
        p,
        trades.create(p, req(m, 77_77, product=trades.SECURED), buyers[1])["id"],
        buyers[1],
        PAY_PASSWORD,
    )
    secured.ship(p, m, s["id"])
    secured.confirm_receipt(p, buyers[1], s["id"], PAY_PASSWORD)
    escrow_refund = trades.pay(
        p,
        trades.create(p, req(m, 5_00, product=trades.SECURED), buyers[0])["id"],
        buyers[0],
        PAY_PASSWORD,
    )
    trades.refund(p, m, 5_00, "e1", trade_no=escrow_refund["id"])
    clock.set(datetime(2026, 8, 3, 23, 59, 59))
    trades.pay(p, trades.create(p, req(m, 2_00), buyers[0])["id"], buyers[0], PAY_PASSWORD)
    clock.set(datetime(2026, 8, 4, 0, 0, 1))  # tomorrow's business is not in today's bill
    trades.pay(p, trades.create(p, req(m, 50_00), buyers[0])["id"], buyers[0], PAY_PASSWORD)
    trades.refund(p, m, 1_00, "r3", trade_no=paid[0]["id"])

    bill = settlement.merchant_bill(p, m, day)
    kinds = [x["type"] for x in bill.lines]
    assert kinds.count("PAYMENT") == 6 and kinds.count("REFUND") == 2
    assert kinds.count("RELEASE") == 1
    assert settlement.reconcile(p, m, day)["difference_fen"] == 0
    assert settlement.reconcile(p, m, day + timedelta(days=1))["difference_fen"] == 0
    gross = 1_23 + 45_67 + 100_00 + 9_99 + 3_33 + 2_00 + 77_77 - 10_00 - 9_99
    assert bill.gross_fen == gross
    assert bill.net_fen == settlement.ledger_net_fen(p, m, day)

    text = settlement.bill_csv(bill)
    rows = list(csv.reader(io.StringIO(text.split("\n", 1)[1])))
    assert rows[0][-3:] == ["gross_amount", "fee", "net_amount"]
    total = rows[-1]
    assert total[0] == "TOTAL" and total[-1] == f"{bill.net_fen // 100}.{bill.net_fen % 100:02d}"
    assert_ledger_clean(p)
