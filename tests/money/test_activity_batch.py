"""A batch's cross-unit activities travel to the merchant's home unit as one message; a failing
command's activity goes with it; redelivery writes nothing twice (ADR 0013)."""

from __future__ import annotations

from qianbao.members import service as members
from qianbao.payments import activity
from qianbao.payments import service as payments
from qianbao.platform import messages
from qianbao.platform.errors import InsufficientBalance
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, new_user
from tests.test_batched_writer import _one_batch, _payment


def _outbox_topics(p, unit: int) -> list[str]:
    with p.units[unit].read() as tx:
        return [str(r["topic"]) for r in tx.all("SELECT topic FROM messages ORDER BY id")]


def test_one_message_per_batch_carries_its_activities(sqlite_platform):
    p = sqlite_platform
    shop = members.get_merchant_cached(p, members.create_merchant(p, "Far Shop")[0]["id"])
    home = p.unit_of(shop["id"])
    away = 1 - home
    rich = [new_user(p, unit=away, balance_fen=50_00) for _ in range(2)]
    poor = new_user(p, unit=away, balance_fen=1_00)
    before = _outbox_topics(p, away)
    done = _one_batch(
        p.writers[away],
        [
            _payment(p, rich[0], shop, 10_00, "a1"),
            _payment(p, poor, shop, 20_00, "p1"),  # refused: its activity must not travel
            _payment(p, rich[1], shop, 30_00, "a2"),
        ],
    )
    assert isinstance(done[1].exception(), InsufficientBalance)
    assert _outbox_topics(p, away)[len(before) :] == [activity.ACTIVITIES]
    p.relay.drain()
    rows = payments.merchant_activity(p, shop["id"])
    assert sorted(r["amount_fen"] for r in rows) == [10_00, 30_00]
    assert {r["payment_id"] for r in rows} == {done[0].result()["id"], done[2].result()["id"]}
    with p.units[away].read() as tx:  # delivered again: the inbox keeps the rows single
        payload = tx.scalar(
            "SELECT payload FROM messages WHERE topic = :t", {"t": "merchant.activities"}
        )
        message = tx.one("SELECT * FROM messages WHERE topic = :t", {"t": "merchant.activities"})
    assert '"items"' in payload
    p.relay.deliver(away, [message])
    assert len(payments.merchant_activity(p, shop["id"])) == 2
    assert_ledger_clean(p)


def test_an_activity_message_of_the_old_shape_is_still_indexed(sqlite_platform):
    p = sqlite_platform
    shop = members.create_merchant(p, "Old Shop")[0]["id"]
    home = p.unit_of(shop)
    payer = new_user(p, unit=home, balance_fen=10_00)
    paid = payments.pay_merchant(p, payer, shop, 2_00, "old-1", PAY_PASSWORD)
    old = {"merchant_id": shop, "ref_id": "old-ref", "kind": "PAYMENT", "payment_id": paid["id"]}
    old |= {"amount_fen": 2_00, "fee_fen": 1, "at_ms": 1, "unit": 1 - home}
    p.writers[1 - home].submit(lambda ctx: messages.send(ctx, home, activity.ACTIVITY, old))
    p.relay.drain()
    assert "old-ref" in {r["ref_id"] for r in payments.merchant_activity(p, shop)}
