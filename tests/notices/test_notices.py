"""Customer notifications end to end: send in a command's transaction, deliver through the
gateway simulator, read its log; dedupe, templates, preferences, quiet hours, the collection
window, retries, and sends from another unit through the relay."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from qianbao.members import service as members
from qianbao.notices import delivery, prefs, service
from qianbao.notices.errors import DedupeKeyInvalid, KindUnknown, ParamsInvalid, PrefsInvalid
from qianbao.platform.clock import clock
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext
from tests.factories import new_user

DAYTIME = datetime(2026, 3, 2, 10, 0)  # a Monday, 10:00 Asia/Shanghai


def _payment_params(amount_fen: int = 1_234_567) -> dict[str, object]:
    return {"amount_fen": amount_fen, "payee": "盒马鲜生", "time": "10:00"}


def test_send_in_a_command_then_deliver_by_sms(platform: Platform) -> None:
    clock.set(DAYTIME)
    user = new_user(platform)
    phone = members.get_user(platform, user)["phone"]

    def command(ctx: WriteContext) -> str:
        return service.send(ctx, user, "large_payment", _payment_params(), dedupe_key="pay-1")

    notice_id = platform.writer_for(user).submit(command)
    assert service.delivery_log(platform, user) == []  # nothing leaves before the worker runs
    assert delivery.deliver_due(platform)["sent"] == 1
    (log,) = service.delivery_log(platform, user)
    assert log["message_id"] == notice_id
    assert (log["channel"], log["address"], log["language"]) == ("SMS", phone, "zh")
    assert (
        log["body"]
        == "【钱宝】您于 10:00 向 盒马鲜生 支付 12345.67 元。如非本人操作，请立即联系客服。"
    )
    (row,) = service.list_notices(platform, user)
    assert row["status"] == "SENT" and row["body"] == log["body"]
    assert delivery.deliver_due(platform)["sent"] == 0  # delivered once


def test_a_failed_command_sends_nothing(sqlite_platform: Platform) -> None:
    platform = sqlite_platform
    clock.set(DAYTIME)
    user = new_user(platform)

    def command(ctx: WriteContext) -> None:
        service.send(ctx, user, "large_payment", _payment_params(), dedupe_key="pay-x")
        raise RuntimeError("the business change failed")

    with pytest.raises(RuntimeError):
        platform.writer_for(user).submit(command)
    delivery.deliver_due(platform)
    assert service.list_notices(platform, user) == []
    assert service.delivery_log(platform, user) == []


def test_dedupe_key_makes_one_notice(sqlite_platform: Platform) -> None:
    platform = sqlite_platform
    clock.set(DAYTIME)
    user = new_user(platform)
    first = service.send(platform, user, "large_payment", _payment_params(), dedupe_key="k")
    again = service.send(platform, user, "large_payment", _payment_params(5), dedupe_key="k")
    assert first == again
    delivery.deliver_due(platform)
    assert service.send(platform, user, "large_payment", _payment_params(), dedupe_key="k") == first
    delivery.deliver_due(platform)
    assert len(service.delivery_log(platform, user)) == 1


def test_send_from_another_unit_goes_through_the_relay(platform: Platform) -> None:
    clock.set(DAYTIME)
    user = new_user(platform, unit=1)
    params = {"sender": "张三", "amount_fen": 888, "message": "恭喜发财"}

    def command(ctx: WriteContext) -> str:
        assert ctx.unit == 0
        service.send(ctx, user, "red_packet_received", params, dedupe_key="rp-1")
        return service.send(ctx, user, "red_packet_received", params, dedupe_key="rp-1")

    platform.writers[0].submit(command)
    platform.relay.drain()
    platform.relay.drain()
    assert delivery.deliver_due(platform)["sent"] == 1
    (log,) = service.delivery_log(platform, user, "red_packet_received")
    assert log["body"] == "【钱宝】张三 给您发了一个红包：8.88 元，“恭喜发财”"


def test_english_push_and_email_preferences(sqlite_platform: Platform) -> None:
    platform = sqlite_platform
    clock.set(DAYTIME)
    user = new_user(platform)
    assert prefs.get_prefs(platform, user)["language"] == "zh"
    prefs.set_prefs(platform, user, language="en", channel="PUSH")
    service.send(platform, user, "yuebao_income", {"day": "2026-03-01", "income_fen": 37},
                 dedupe_key="yeb-1")  # fmt: skip
    delivery.deliver_due(platform)  # preferences apply when a notice leaves
    prefs.set_prefs(platform, user, channel="EMAIL", email="li.lei@example.com")
    service.send(platform, user, "yuebao_income", {"day": "2026-03-02", "income_fen": 38},
                 dedupe_key="yeb-2")  # fmt: skip
    delivery.deliver_due(platform)
    push, mail = service.delivery_log(platform, user)
    assert (push["channel"], push["address"]) == ("PUSH", f"app:{user}")
    assert push["body"] == "[Qianbao] Yu'e Bao income for 2026-03-01: CNY 0.37."
    assert (mail["channel"], mail["address"]) == ("EMAIL", "li.lei@example.com")


def test_bad_preferences_are_refused_and_change_nothing(sqlite_platform: Platform) -> None:
    platform = sqlite_platform
    user = new_user(platform)
    before = prefs.get_prefs(platform, user)
    for bad in (
        {"language": "fr"},
        {"channel": "FAX"},
        {"channel": "EMAIL"},  # no address yet
        {"email": "not-an-address"},
        {"quiet_start": "25:00"},
        {"quiet_end": "7"},
    ):
        with pytest.raises(PrefsInvalid):
            prefs.set_prefs(platform, user, **bad)
    with pytest.raises(PrefsInvalid):
        prefs.set_prefs(platform, user, colour="red")
    assert prefs.get_prefs(platform, user) == before


def test_bad_sends_are_refused_and_write_nothing(sqlite_platform: Platform) -> None:
    platform = sqlite_platform
    user = new_user(platform)
    with pytest.raises(KindUnknown):
        service.send(platform, user, "lottery", {}, dedupe_key="a")
    for params in (
        {"amount_fen": 1, "payee": "x"},  # missing
        {"amount_fen": 1.5, "payee": "x", "time": "t"},  # no floats for money
        {"amount_fen": -1, "payee": "x", "time": "t"},
        {"amount_fen": 1, "payee": "{0.__class__}", "time": "t"},  # no format tricks
        {"amount_fen": 1, "payee": "x" * 201, "time": "t"},
        {"amount_fen": 1, "payee": "x", "time": "t", "extra": 1},
    ):
        with pytest.raises(ParamsInvalid):
            service.send(platform, user, "large_payment", params, dedupe_key="b")
    with pytest.raises(DedupeKeyInvalid):
        service.send(platform, user, "large_payment", _payment_params(), dedupe_key="")
    assert service.list_notices(platform, user) == []


def test_quiet_hours_hold_account_notices_not_security_ones(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    clock.set(datetime(2026, 3, 2, 23, 30))
    user = new_user(p)
    service.send(p, user, "yuebao_income", {"day": "2026-03-02", "income_fen": 5}, dedupe_key="y")
    service.send(p, user, "large_payment", _payment_params(), dedupe_key="pay")
    counts = delivery.deliver_due(p)
    assert (counts["sent"], counts["deferred"]) == (1, 1)
    assert [r["kind"] for r in service.delivery_log(p, user)] == ["large_payment"]
    clock.set(datetime(2026, 3, 3, 7, 59))
    assert delivery.deliver_due(p)["sent"] == 0
    clock.set(datetime(2026, 3, 3, 8, 0))
    assert delivery.deliver_due(p)["sent"] == 1
    prefs.set_prefs(p, user, quiet_start="00:00", quiet_end="00:00")  # no quiet hours
    clock.set(datetime(2026, 3, 3, 23, 50))
    service.send(p, user, "yuebao_income", {"day": "2026-03-03", "income_fen": 5}, dedupe_key="z")
    assert delivery.deliver_due(p)["sent"] == 1


def test_collection_reminders_lawful_window_one_a_day(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    clock.set(datetime(2026, 3, 2, 6, 30))
    user = new_user(p)
    overdue = {"amount_fen": 10_000, "days_past_due": "3"}
    service.send(p, user, "huabei_overdue_reminder", overdue, dedupe_key="od-1")
    service.send(p, user, "huabei_due_reminder", {"amount_fen": 100, "due_date": "2026-03-09"},
                 dedupe_key="due-1")  # fmt: skip
    prefs.set_prefs(p, user, quiet_start="00:00", quiet_end="00:00")  # the law still applies
    assert delivery.deliver_due(p)["sent"] == 0  # before 08:00
    clock.set(datetime(2026, 3, 2, 8, 0))
    assert delivery.deliver_due(p)["sent"] == 1  # one, the other waits for tomorrow
    clock.set(datetime(2026, 3, 2, 20, 59))
    assert delivery.deliver_due(p)["sent"] == 0
    clock.set(datetime(2026, 3, 2, 21, 30))
    assert delivery.deliver_due(p)["sent"] == 0
    clock.set(datetime(2026, 3, 3, 8, 0))
    assert delivery.deliver_due(p)["sent"] == 1
    sent = [
        datetime.fromtimestamp(r["accepted_at_ms"] / 1000) for r in service.delivery_log(p, user)
    ]
    assert len(sent) == 2 and sent[1] - sent[0] >= timedelta(hours=24)


def test_busy_provider_is_retried_with_backoff(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    clock.set(DAYTIME)
    user = new_user(p)
    p.notices.gateway.failure_rate = 0.999999
    service.send(p, user, "large_payment", _payment_params(), dedupe_key="retry")
    assert delivery.deliver_due(p)["retry"] == 1
    (row,) = service.list_notices(p, user)
    assert row["status"] == "PENDING" and row["attempts"] == 1 and row["last_error"]
    p.notices.gateway.failure_rate = 0.0
    assert delivery.deliver_due(p)["sent"] == 0  # backing off
    clock.advance(timedelta(seconds=30))
    assert delivery.deliver_due(p)["sent"] == 1
    assert len(service.delivery_log(p, user)) == 1
    # a provider that stays busy: FAILED after max_attempts, with the reason
    p.notices.config = dataclasses.replace(p.notices.config, max_attempts=2)
    p.notices.gateway.failure_rate = 0.999999
    service.send(p, user, "large_payment", _payment_params(), dedupe_key="doomed")
    assert delivery.deliver_due(p)["retry"] == 1
    clock.advance(timedelta(seconds=30))
    assert delivery.deliver_due(p)["failed"] == 1
    doomed = service.list_notices(p, user)[0]
    assert (doomed["status"], doomed["attempts"]) == ("FAILED", 2) and "busy" in doomed[
        "last_error"
    ]


def test_the_simulator_refuses_what_a_carrier_refuses() -> None:
    from qianbao.notices.gateway import GatewayRejected, check_address

    check_address("SMS", "13800000001", "hi")
    check_address("EMAIL", "a.b@example.cn", "hi")
    check_address("PUSH", "app:123", "hi")
    for channel, address, body in (
        ("SMS", "12345", "hi"),
        ("SMS", "13800000001", "x" * 501),
        ("EMAIL", "nobody", "hi"),
        ("PUSH", "123", "hi"),
        ("FAX", "123", "hi"),
    ):
        with pytest.raises(GatewayRejected):
            check_address(channel, address, body)


def test_lost_worker_is_handed_over_again_once(sqlite_platform: Platform) -> None:
    """A worker that dies after the provider took the message: after the lease the notice is
    handed over again, and the provider answers with its first receipt (one SMS)."""
    p = sqlite_platform
    clock.set(DAYTIME)
    user = new_user(p)
    service.send(p, user, "large_payment", _payment_params(), dedupe_key="lost")
    unit = p.unit_of(user)
    with p.units[unit].read() as tx:
        rows = delivery.store.due_notices(tx, clock.now_ms(), 10)
        plan = delivery._plan(p, tx, rows, clock.now_ms())
    from functools import partial

    claimed = p.writers[unit].submit(partial(delivery._claim, plan=plan))
    assert len(claimed) == 1
    p.notices.gateway.deliver(plan.send[0][1])  # ... and the worker dies here
    assert delivery.deliver_due(p)["sent"] == 0
    clock.advance(timedelta(seconds=121))
    counts = delivery.deliver_due(p)
    assert (counts["requeued"], counts["sent"]) == (1, 1)
    assert len(service.delivery_log(p, user)) == 1
    assert service.list_notices(p, user)[0]["status"] == "SENT"
