"""The degradation switch ``notify.defer`` (issue 12 item 5): while it is on no merchant
notification is sent (the tasks wait, due); turned off, the next run delivers every one."""

from __future__ import annotations

from qianbao.openapi import notify
from qianbao.payments import trades
from tests.factories import PAY_PASSWORD, new_user


def _paid(gw, out: str) -> str:
    buyer = new_user(gw.p, balance_fen=50_00)
    created = gw.client.call(
        "qianbao.trade.create",
        {"out_trade_no": out, "total_amount": "20.00", "subject": "defer", "buyer_id": buyer},
    )
    trades.pay(gw.p, created["trade_no"], buyer, PAY_PASSWORD)
    return str(created["trade_no"])


def test_deferred_notifications_are_delivered_after_the_switch_is_off(gw, receiver):
    p = gw.p
    receiver.script = [(200, "success")] * 3
    p.controls.set_switch("notify.defer", True, "test", "peak")
    paid = [_paid(gw, f"defer{i}") for i in range(3)]
    assert notify.deliver_due(p) == {"delivered": 0, "failed": 0}
    assert receiver.received == []
    pending = [t for trade in paid for t in notify.list_tasks(p, trade_id=trade)]
    assert len(pending) == 3 and {(t["status"], t["attempts"]) for t in pending} == {("PENDING", 0)}
    p.controls.set_switch("notify.defer", False, "test")
    assert notify.deliver_due(p) == {"delivered": 3, "failed": 0}
    assert sorted(f["out_trade_no"] for f in receiver.received) == [f"defer{i}" for i in range(3)]
