"""The statement's filtered read (``ledger.service.statement_search``) on both engines: date
range, direction as the holder sees it, voucher kind, paging, and the running balance over all
postings whatever is shown."""

from __future__ import annotations

from datetime import datetime, timedelta

from qianbao.ledger import service as ledger
from qianbao.ledger.chart import user_account
from qianbao.payments import service as payments
from qianbao.platform.clock import TZ, clock, start_of_day_ms
from tests.factories import PAY_PASSWORD, new_user

F = ledger.StatementFilter


def test_filters_pages_and_running_balance(platform):
    p = platform
    day_one = datetime(2026, 3, 1, 10, 0, tzinfo=TZ)
    clock.set(day_one)
    user, friend = new_user(p, balance_fen=100_00), new_user(p, balance_fen=5_00)
    payments.transfer(p, user, friend, 10_00, "s-1", PAY_PASSWORD)
    clock.set(day_one + timedelta(days=1))
    payments.transfer(p, friend, user, 2_00, "s-2", PAY_PASSWORD)
    p.relay.drain()  # across units the credit is booked when its message arrives: now
    payments.transfer(p, user, friend, 3_00, "s-3", PAY_PASSWORD)
    p.relay.drain()  # a transfer across units is credited by message
    db, account = p.db_for(user), user_account(user)

    def amounts(where: F, limit: int = 50, offset: int = 0) -> list[int]:
        return [x["amount_fen"] for x in ledger.statement_search(db, account, where, limit, offset)]

    assert amounts(F()) == [-3_00, 2_00, -10_00, 100_00]
    assert amounts(F(sign=1)) == [2_00, 100_00]
    assert amounts(F(sign=-1)) == [-3_00, -10_00]
    assert amounts(F(kind="topup")) == [100_00]
    second = start_of_day_ms(day_one.date() + timedelta(days=1))
    assert amounts(F(since_ms=second)) == [-3_00, 2_00]
    assert amounts(F(until_ms=second)) == [-10_00, 100_00]
    assert amounts(F(), limit=2, offset=1) == [2_00, -10_00]
    shown = ledger.statement_search(db, account, F(sign=-1), 1, 0)[0]
    assert shown["balance_after_fen"] == 89_00  # 100 - 10 + 2 - 3: every posting counted
    kinds = ledger.statement_kinds(db, account)  # across units: transfer.out / transfer.in
    assert kinds[0] == "topup" and kinds == sorted(kinds) and len(kinds) in (2, 3)
    assert all(k.startswith("transfer") for k in kinds[1:])
