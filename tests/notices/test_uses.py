"""The notices the products send: large payments (the engine's observer port) and Huabei's bill,
due-date and overdue reminders (lawful: 08:00-21:00, at most one a day)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from qianbao.credit import service as credit
from qianbao.notices import delivery, service
from qianbao.payments import service as payments
from qianbao.platform.clock import TZ, clock
from qianbao.platform.runtime import Platform
from tests.conftest import assert_ledger_clean
from tests.credit.helpers import at, huabei_user, live, merchant
from tests.factories import PAY_PASSWORD, new_user


def test_large_payments_alert_the_payer_once(platform: Platform) -> None:
    p = platform
    at(date(2026, 3, 2), 14)
    user = new_user(p, balance_fen=2_000_000)
    shop = merchant(p)
    payments.pay_merchant(p, user, shop, 499_999, "small", PAY_PASSWORD)
    paid = payments.pay_merchant(p, user, shop, 500_000, "big", PAY_PASSWORD)
    again = payments.pay_merchant(p, user, shop, 500_000, "big", PAY_PASSWORD)  # a replay
    assert again["id"] == paid["id"]
    delivery.deliver_due(p)
    (alert,) = service.delivery_log(p, user)
    assert alert["kind"] == "large_payment" and alert["message_id"]
    assert "5000.00 元" in alert["body"] and "03-02 14:00" in alert["body"]
    assert_ledger_clean(p)


def test_a_large_huabei_payment_alerts_too(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    at(date(2026, 3, 2), 14)
    user = huabei_user(p, line_fen=2_000_000)
    credit.pay_merchant_with_huabei(p, user, merchant(p), 600_000, "hb-big", PAY_PASSWORD)
    delivery.deliver_due(p)
    assert [r["kind"] for r in service.delivery_log(p, user)] == ["large_payment"]
    assert_ledger_clean(p)


def _local(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=TZ)


def test_huabei_bill_due_and_overdue_reminders(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    at(date(2026, 1, 15))
    user = huabei_user(p, line_fen=100_000)
    credit.pay_merchant_with_huabei(p, user, merchant(p), 40_000, "buy", PAY_PASSWORD)

    def deliver(hour: int) -> Callable[[], None]:
        def run() -> None:
            for h in (7, hour):
                now = clock.now()
                clock.set(now.astimezone(TZ).replace(hour=h))
                delivery.deliver_due(p)

        return run

    days = {date(2026, 1, 16) + timedelta(days=n): deliver(10) for n in range(30)}
    live(p, date(2026, 1, 16), date(2026, 2, 14), days)
    log = service.delivery_log(p, user)
    got = [(r["kind"], _local(r["accepted_at_ms"]).date().isoformat()) for r in log]
    assert got == [
        ("huabei_bill_issued", "2026-02-01"),
        ("huabei_due_reminder", "2026-02-08"),
        ("huabei_due_reminder", "2026-02-10"),
        ("huabei_overdue_reminder", "2026-02-12"),
        ("huabei_overdue_reminder", "2026-02-14"),
    ]
    assert "400.00" in log[0]["body"] and "2026-02-10" in log[0]["body"]
    collection = [_local(r["accepted_at_ms"]) for r in log if r["kind"] != "huabei_bill_issued"]
    assert all(8 <= t.hour < 21 for t in collection)
    assert len({t.date() for t in collection}) == len(collection)  # at most one a day
    assert_ledger_clean(p)
