"""Shared helpers for the Huabei tests: a user with a Huabei account, living through days."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from qianbao.credit import dayend
from qianbao.credit import service as credit
from qianbao.ledger.service import get_account
from qianbao.members import service as members
from qianbao.platform.clock import TZ, clock
from qianbao.platform.runtime import Platform
from tests.factories import new_user

_merchants = iter(range(1, 1_000_000))


def at(day: date, hour: int = 10) -> None:
    clock.set(datetime(day.year, day.month, day.day, hour, tzinfo=TZ))


def huabei_user(
    p: Platform,
    *,
    line_fen: int | None = None,
    balance_fen: int = 0,
    autodebit: bool = False,
    unit: int | None = None,
) -> str:
    user_id = new_user(p, unit=unit, balance_fen=balance_fen, password_free_fen=200_000)
    credit.open_credit_account(p, user_id, f"open-{user_id}")
    if line_fen is not None:
        credit.operator_set_line(p, "op-test", user_id, line_fen, "test line")
    credit.set_autodebit(p, user_id, autodebit)
    return user_id


def merchant(p: Platform) -> str:
    row, _ = members.create_merchant(p, f"商户{next(_merchants)}")
    return str(row["id"])


def live(
    p: Platform, first: date, last: date, actions: dict[date, Callable[[], object]] | None = None
) -> None:
    """Run the credit calendar day by day, doing ``actions[day]`` during that day."""
    todo = actions or {}

    def between(day: date) -> None:
        if day in todo:
            todo[day]()

    dayend.run_days(p, first, last, between=between)


def receivable_balance(p: Platform, user_id: str) -> int:
    return int(get_account(p.db_for(user_id), credit.receivable(user_id))["balance_fen"])


def counters_match_ledger(p: Platform, user_id: str) -> None:
    s = credit.summary(p, user_id)
    assert s["receivable_fen"] == receivable_balance(p, user_id), s
