"""The credit state tables that replaced raw status writes: purchases and plans."""

from __future__ import annotations

from datetime import date as D

import pytest

from qianbao.credit import reads
from qianbao.credit import service as credit
from qianbao.credit.accounts import PLAN, PURCHASE
from qianbao.platform.errors import InvalidTransition
from qianbao.platform.runtime import Platform
from tests.credit.helpers import at, huabei_user, live, merchant


@pytest.mark.parametrize("current", ["SUCCEEDED", "PARTIALLY_REFUNDED"])
@pytest.mark.parametrize("target", ["PARTIALLY_REFUNDED", "REFUNDED"])
def test_a_purchase_refunds_until_nothing_is_left(current: str, target: str) -> None:
    PURCHASE.check(current, target)


@pytest.mark.parametrize("target", ["PARTIALLY_REFUNDED", "REFUNDED", "SUCCEEDED"])
def test_a_refunded_purchase_moves_no_more(target: str) -> None:
    with pytest.raises(InvalidTransition):
        PURCHASE.check("REFUNDED", target)


def test_only_an_active_plan_completes() -> None:
    PLAN.check("ACTIVE", "COMPLETED")
    for done in ("COMPLETED", "SETTLED", "WRITTEN_OFF"):
        with pytest.raises(InvalidTransition):
            PLAN.check(done, "COMPLETED")


def test_refunds_move_the_purchase_and_a_billed_out_plan_completes(platform: Platform) -> None:
    p = platform
    at(D(2026, 3, 1))
    user = huabei_user(p, line_fen=500_000, balance_fen=100_000)
    shop = merchant(p)
    bought = credit.pay_merchant_with_huabei(p, user, shop, 50_000, "st-a")
    credit.refund_huabei_purchase(p, shop, bought["id"], 20_000, "st-refund-1")
    assert reads.get_purchase(p, bought["id"])["status"] == "PARTIALLY_REFUNDED"
    credit.refund_huabei_purchase(p, shop, bought["id"], 30_000, "st-refund-2")
    assert reads.get_purchase(p, bought["id"])["status"] == "REFUNDED"
    split = credit.pay_merchant_with_huabei(p, user, shop, 30_000, "st-b", installments=3)
    plan_id = reads.get_purchase(p, split["id"])["plan_id"]
    live(p, D(2026, 3, 2), D(2026, 6, 2))
    assert {pl["id"]: pl["status"] for pl in reads.list_plans(p, user)}[plan_id] == "COMPLETED"
