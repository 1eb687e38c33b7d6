"""``ledger.service.post_bulk``: a voucher with ten thousand legs (PostgreSQL writes it by COPY),
balanced, guarded, all or nothing."""

from __future__ import annotations

import pytest

from qianbao.ledger.service import BULK_COPY_MIN_LEGS, balance_in, credit, debit, post_bulk
from qianbao.ledger.store import open_accounts
from qianbao.platform.errors import InsufficientBalance
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext
from qianbao.wealth import state
from tests.conftest import assert_ledger_clean


def test_a_very_large_voucher_is_booked_whole_or_not_at_all(yp: Platform) -> None:
    p = yp
    holders = [f"{n:016d}00" for n in range(BULK_COPY_MIN_LEGS)]  # bucket 0: unit 0

    def book(ctx: WriteContext) -> str:
        open_accounts(ctx.tx, [(state.shares(u), u) for u in holders])
        legs = [credit(state.shares(u), 3) for u in holders]
        return post_bulk(
            ctx, "YEB_TEST", "bulk", [*legs, debit(state.custody(0), 3 * len(holders))]
        )

    p.writers[0].submit(book)

    def overdraw(ctx: WriteContext) -> str:
        legs = [debit(state.shares(u), 3) for u in holders[:-1]] + [
            debit(state.shares(holders[-1]), 4)
        ]
        return post_bulk(
            ctx, "YEB_TEST", "too-much", [*legs, credit(state.custody(0), 3 * len(holders) + 1)]
        )

    with pytest.raises(InsufficientBalance):
        p.writers[0].submit(overdraw)
    with p.units[0].read() as tx:
        assert balance_in(tx, state.shares(holders[0])) == 3
        assert balance_in(tx, state.shares(holders[-1])) == 3
        assert balance_in(tx, state.custody(0)) == 3 * len(holders)
    with pytest.raises(AssertionError):
        p.writers[0].submit(
            lambda ctx: post_bulk(
                ctx, "YEB_TEST", "unbalanced", [credit(state.shares(holders[0]), 1)]
            )
        )
    assert_ledger_clean(p)
