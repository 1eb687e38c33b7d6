"""Asynchronous notifications: signed, retried on a growing schedule, logged, resendable."""

from __future__ import annotations

from datetime import datetime, timedelta

from qianbao.openapi import notify
from qianbao.payments import trades
from qianbao.platform.clock import clock
from tests.factories import PAY_PASSWORD, new_user


def _paid_trade(gw, out: str) -> str:
    buyer = new_user(gw.p, balance_fen=50_00)
    created = gw.client.call(
        "qianbao.trade.create",
        {"out_trade_no": out, "total_amount": "20.00", "subject": "notify", "buyer_id": buyer},
    )
    clock.set(datetime.now())  # freeze the business clock: the test drives retries
    trades.pay(gw.p, created["trade_no"], buyer, PAY_PASSWORD)
    return str(created["trade_no"])


def test_retries_after_failures_and_stops_after_success(gw, receiver):
    p = gw.p
    receiver.script = [(500, "oops"), (200, "fail")]
    trade_no = _paid_trade(gw, "n-1")
    assert notify.deliver_due(p) == {"delivered": 0, "failed": 1}
    assert notify.deliver_due(p) == {"delivered": 0, "failed": 0}  # not due yet
    clock.advance(timedelta(minutes=4))
    assert notify.deliver_due(p)["failed"] == 1
    clock.advance(timedelta(minutes=9))
    assert notify.deliver_due(p)["failed"] == 0  # second retry waits 10 minutes
    clock.advance(timedelta(minutes=1))
    assert notify.deliver_due(p) == {"delivered": 1, "failed": 0}
    clock.advance(timedelta(days=2))
    assert notify.deliver_due(p) == {"delivered": 0, "failed": 0}  # success stops the retries

    [task] = notify.list_tasks(p, trade_id=trade_no)
    assert (task["status"], task["attempts"]) == ("DELIVERED", 3)
    log = notify.attempts(p, task["id"])
    assert [(a["http_status"], a["outcome"]) for a in log] == [
        (500, "FAILED"),
        (200, "FAILED"),
        (200, "SUCCESS"),
    ]
    assert [f["notify_id"] for f in receiver.received] == [task["id"]] * 3
    form = receiver.received[-1]
    assert form["trade_status"] == "TRADE_SUCCESS" and form["total_amount"] == "20.00"
    assert form["out_trade_no"] == "n-1" and form["sign_type"] == "RSA2"
    assert gw.client.verify_notification(form)
    assert not gw.client.verify_notification({**form, "total_amount": "2000.00"})

    # an operator resends: the merchant sees a duplicate and, checking out_trade_no, ignores it
    notify.resend(p, task["id"])
    assert notify.deliver_due(p)["delivered"] == 1
    assert len(receiver.received) == 4
    assert list(receiver.applied) == [("n-1", "TRADE_SUCCESS")]


def test_gives_up_after_the_schedule_and_an_operator_resends(gw, receiver):
    p = gw.p
    receiver.script = [(503, "down")] * notify.MAX_ATTEMPTS
    trade_no = _paid_trade(gw, "n-2")
    for wait_s in (0, *notify.RETRY_SCHEDULE_S):
        clock.advance(timedelta(seconds=wait_s))
        assert notify.deliver_due(p)["failed"] == 1
    [task] = notify.list_tasks(p, trade_id=trade_no)
    assert (task["status"], task["attempts"]) == ("GAVE_UP", notify.MAX_ATTEMPTS)
    clock.advance(timedelta(days=3))
    assert notify.deliver_due(p) == {"delivered": 0, "failed": 0}
    notify.resend(p, task["id"])
    assert notify.deliver_due(p)["delivered"] == 1
    assert notify.list_tasks(p, status="DELIVERED")[0]["id"] == task["id"]


def test_refund_and_close_are_notified(gw, receiver):
    p = gw.p
    trade_no = _paid_trade(gw, "n-3")
    clock.use_real_time()
    gw.client.call(
        "qianbao.trade.refund",
        {"trade_no": trade_no, "refund_amount": "5.00", "out_request_no": "rq-1"},
    )
    gw.client.call(
        "qianbao.trade.precreate",
        {"out_trade_no": "n-4", "total_amount": "1.00", "subject": "unscanned"},
    )
    notify.deliver_due(p)
    events = {
        (f["out_trade_no"], f["trade_status"], f.get("out_biz_no", "")) for f in receiver.received
    }
    assert ("n-3", "TRADE_SUCCESS", "rq-1") in events
    refund_form = next(f for f in receiver.received if f.get("out_biz_no") == "rq-1")
    assert refund_form["refund_amount"] == "5.00" and refund_form["refund_fee"] == "5.00"
    assert all(gw.client.verify_notification(f) for f in receiver.received)
