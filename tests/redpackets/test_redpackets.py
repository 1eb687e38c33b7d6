"""Red packets end to end on a real platform: personal and group packets, claims across units,
the refund after 24 hours exactly once, idempotency, limits and bad input; the ledger stays
clean and nothing moves on a refusal."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from qianbao.notices import delivery
from qianbao.notices import service as notices
from qianbao.payments import service as payments
from qianbao.platform.clock import clock
from qianbao.platform.errors import IdempotencyKeyReused, QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.redpackets import claims
from qianbao.redpackets import service as redpackets
from qianbao.redpackets.errors import (
    DailyLimitExceeded,
    GroupNotFound,
    NotForYou,
    PacketEmpty,
    PacketExpired,
    PacketInvalid,
    PacketLimitExceeded,
    PacketNotFound,
)
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, new_user

NOON = datetime(2026, 3, 2, 12, 0)


def _balance(p: Platform, user_id: str) -> int:
    return int(payments.balance(p, user_id)["balance_fen"])


def test_personal_packet_across_units(platform: Platform) -> None:
    p = platform
    clock.set(NOON)
    alice = new_user(p, unit=0, name="王小明", balance_fen=100_000)
    bob, eve = new_user(p, unit=1), new_user(p, unit=1)
    sent = redpackets.send(
        p, alice, kind="PERSONAL", amount_fen=888, recipient_id=bob,
        message="新年快乐", request_id="rp-1", pay_password=PAY_PASSWORD,
    )  # fmt: skip
    assert (sent["status"], sent["total_fen"], sent["shares"]) == ("ACTIVE", 888, 1)
    assert _balance(p, alice) == 100_000 - 888
    again = redpackets.send(
        p, alice, kind="PERSONAL", amount_fen=888, recipient_id=bob,
        message="新年快乐", request_id="rp-1", pay_password=PAY_PASSWORD,
    )  # fmt: skip
    assert again["packet_id"] == sent["packet_id"] and _balance(p, alice) == 100_000 - 888
    with pytest.raises(IdempotencyKeyReused):
        redpackets.send(
            p, alice, kind="PERSONAL", amount_fen=889, recipient_id=bob,
            request_id="rp-1", pay_password=PAY_PASSWORD,
        )  # fmt: skip
    with pytest.raises(PacketNotFound):  # not hers to see
        claims.claim(p, sent["packet_id"], eve)
    got = claims.claim(p, sent["packet_id"], bob)
    assert got["amount_fen"] == 888 and claims.claim(p, sent["packet_id"], bob) == got
    p.relay.drain()
    assert _balance(p, bob) == 888
    assert claims.get_packet(p, sent["packet_id"], bob)["status"] == "FINISHED"
    delivery.deliver_due(p)
    (notice,) = notices.delivery_log(p, bob, "red_packet_received")
    assert notice["body"] == "【钱宝】王小明 给您发了一个红包：8.88 元，“新年快乐”"
    assert_ledger_clean(p)


def _group(p: Platform, size: int, balance_fen: int = 1_000_000) -> tuple[str, list[str], str]:
    sender = new_user(p, balance_fen=balance_fen, password_free_fen=200_000)
    others = [new_user(p) for _ in range(size - 1)]
    group = redpackets.create_group(p, sender, "家人群", others)
    return sender, others, group["group_id"]


def test_random_group_packet_first_come_first_served(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    clock.set(NOON)
    sender, others, group_id = _group(p, 7)
    sent = redpackets.send(
        p, sender, kind="RANDOM", amount_fen=1_000, shares=5, group_id=group_id,
        request_id="g-1",
    )  # fmt: skip
    got = [claims.claim(p, sent["packet_id"], u)["amount_fen"] for u in others[:5]]
    assert sum(got) == 1_000 and min(got) >= 1
    with pytest.raises(PacketEmpty):
        claims.claim(p, sent["packet_id"], others[5])
    p.relay.drain()
    assert [_balance(p, u) for u in others[:5]] == got
    view = claims.get_packet(p, sent["packet_id"], others[5])  # members see who got what
    assert [c["amount_fen"] for c in view["claims"]] == got and view["status"] == "FINISHED"
    assert claims.refund_expired(p)["packets"] == 0
    clock.advance(timedelta(days=2))
    assert claims.refund_expired(p)["packets"] == 0  # nothing left to return
    assert_ledger_clean(p)


def test_fixed_packet_and_the_refund_after_24_hours_once(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    clock.set(NOON)
    sender, others, group_id = _group(p, 4)
    start = _balance(p, sender)
    sent = redpackets.send(
        p, sender, kind="FIXED", amount_fen=520, shares=3, group_id=group_id, request_id="f-1"
    )
    assert sent["total_fen"] == 1_560
    assert claims.claim(p, sent["packet_id"], others[0])["amount_fen"] == 520
    clock.advance(timedelta(hours=24) - timedelta(seconds=1))
    assert claims.refund_expired(p) == {"packets": 0, "refunded_fen": 0}
    assert claims.claim(p, sent["packet_id"], sender)["amount_fen"] == 520  # the sender may too
    clock.advance(timedelta(seconds=1))
    with pytest.raises(PacketExpired):
        claims.claim(p, sent["packet_id"], others[1])
    assert claims.refund_expired(p) == {"packets": 1, "refunded_fen": 520}
    assert claims.refund_expired(p) == {"packets": 0, "refunded_fen": 0}  # exactly once
    assert p.commands.submit(p.unit_of(sender), claims.RefundRedPacket(sent["packet_id"])) == 0
    p.relay.drain()
    assert _balance(p, sender) == start - 1_560 + 520 + 520
    view = claims.get_packet(p, sent["packet_id"], sender)
    assert (view["status"], view["claimed_fen"], view["refunded_fen"]) == ("REFUNDED", 1_040, 520)
    with pytest.raises(PacketExpired):
        claims.claim(p, sent["packet_id"], others[2])
    delivery.deliver_due(p)
    (back,) = notices.delivery_log(p, sender, "red_packet_refunded")
    assert "5.20 元已退回余额" in back["body"]
    assert_ledger_clean(p)


def test_bad_input_and_limits_move_nothing(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    clock.set(NOON)
    sender, others, group_id = _group(p, 3, balance_fen=10_000_000)
    outsider = new_user(p, balance_fen=10_000, password_free_fen=10_000)
    start = _balance(p, sender)
    base = {"kind": "RANDOM", "amount_fen": 1_000, "shares": 2, "group_id": group_id}
    base["pay_password"] = PAY_PASSWORD
    bad: list[tuple[type[QianbaoError], dict[str, object]]] = [
        (PacketInvalid, {"kind": "LUCKY"}),
        (QianbaoError, {"amount_fen": 0}),
        (QianbaoError, {"amount_fen": -5}),
        (QianbaoError, {"amount_fen": 10.5}),
        (PacketInvalid, {"shares": 0}),
        (PacketInvalid, {"shares": 4}),  # more shares than members
        (PacketInvalid, {"amount_fen": 1, "shares": 2}),  # less than 0.01 CNY a share
        (PacketInvalid, {"message": "长" * 41}),
        (PacketInvalid, {"group_id": None}),
        (GroupNotFound, {"group_id": "1234567890123456" + "01"}),
        (PacketLimitExceeded, {"amount_fen": 2_000_001}),
        (PacketInvalid, {"kind": "PERSONAL", "group_id": None, "recipient_id": sender}),
        (PacketInvalid, {"kind": "PERSONAL", "shares": 2, "group_id": None,
                         "recipient_id": others[0]}),
    ]  # fmt: skip
    for n, (error, change) in enumerate(bad):
        with pytest.raises(error):
            redpackets.send(p, sender, **(base | change), request_id=f"bad-{n}")  # type: ignore[arg-type]
    with pytest.raises(GroupNotFound):  # an outsider cannot send to a group
        redpackets.send(p, outsider, **base, request_id="out")  # type: ignore[arg-type]
    for n in range(2):
        redpackets.send(p, sender, **(base | {"amount_fen": 2_000_000}), request_id=f"day-{n}")  # type: ignore[arg-type]
    with pytest.raises(DailyLimitExceeded):  # 50,000 CNY a day
        redpackets.send(p, sender, **(base | {"amount_fen": 1_000_001}), request_id="day-3")  # type: ignore[arg-type]
    assert _balance(p, sender) == start - 4_000_000
    with pytest.raises(PacketNotFound):
        claims.claim(p, "nonsense", others[0])
    with pytest.raises(PacketNotFound):
        claims.claim(p, "1234567890123456" + "07", others[0])
    assert_ledger_clean(p)
    with pytest.raises(NotForYou):  # a personal packet's command checks its recipient too
        bob = others[0]
        sent = redpackets.send(
            p, sender, kind="PERSONAL", amount_fen=100, recipient_id=bob, request_id="nfy",
            pay_password=PAY_PASSWORD,
        )  # fmt: skip
        p.commands.submit(p.unit_of(sender), claims.ClaimRedPacket(sent["packet_id"], others[1]))
