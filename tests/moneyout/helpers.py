"""Builders for money-out tests: a merchant paid from both units, bank cards, the clock."""

from __future__ import annotations

import itertools
from datetime import date, datetime

from qianbao.members.identity import make_card_no
from qianbao.payments import service as payments
from qianbao.platform.clock import TZ, clock
from qianbao.platform.runtime import Platform
from tests.factories import PAY_PASSWORD, new_user
from tests.trades.helpers import new_merchant

_seq = itertools.count(1)


def at(day: date, hour: int = 10) -> None:
    clock.set(datetime(day.year, day.month, day.day, hour, tzinfo=TZ))


def fresh_card() -> str:
    """A card number the bank does not know yet (its sandbox opens it for the holder named)."""
    return make_card_no(f"6225{next(_seq):011d}")


def paid_merchant(p: Platform, per_unit_fen: int, fee_rate: str = "0") -> str:
    """A merchant paid ``per_unit_fen`` by a payer of each unit (so a sub-account in each)."""
    m = new_merchant(p, fee_rate)
    for unit in range(len(p.units)):
        u = new_user(p, unit=unit, balance_fen=per_unit_fen)
        payments.pay_merchant(p, u, m, per_unit_fen, f"pay-{next(_seq)}", PAY_PASSWORD)
    return m


def bank_fen(p: Platform, account_no: str) -> int:
    return int(p.channels["SIMBANK"].balance_fen(account_no))
