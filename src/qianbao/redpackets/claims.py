"""Claiming a red packet (抢红包) and returning what is left after 24 hours.

A claim is a command in the packet's unit (the sender's): the unit writer runs commands one at a
time, so "the next unclaimed share" is read and taken without a race, and the database guards it
anyway (a share is taken only while its claimer is NULL; one share per claimer is a unique key;
the packet counts at most ``shares`` claims). Claiming again answers the first claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qianbao.ledger.chart import in_transit, unit_account, user_account
from qianbao.ledger.service import credit, debit, post
from qianbao.notices import service as notices
from qianbao.platform import messages
from qianbao.platform.clock import clock
from qianbao.platform.db import Row, Tx
from qianbao.platform.errors import NotFound
from qianbao.platform.ids import bucket_of
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext
from qianbao.redpackets import store
from qianbao.redpackets.errors import (
    ClaimRaced,
    NotForYou,
    PacketEmpty,
    PacketExpired,
    PacketNotFound,
)
from qianbao.redpackets.service import (
    HOLDING,
    PERSONAL,
    RED_PACKET,
    TOPIC,
    config_of,
    get_group,
    public_packet,
)


@dataclass(frozen=True)
class ClaimRedPacket:
    packet_id: str
    claimer_id: str


@dataclass(frozen=True)
class RefundRedPacket:
    packet_id: str


def _unit_of_packet(p: Platform, packet_id: Any) -> int:
    try:
        if not isinstance(packet_id, str):
            raise ValueError(packet_id)
        bucket_of(packet_id)
        return p.unit_of(packet_id)
    except ValueError:
        raise PacketNotFound("no such red packet") from None


def _packet(p: Platform, packet_id: str) -> Row:
    with p.units[_unit_of_packet(p, packet_id)].read() as tx:
        row = store.load_packet(tx, packet_id)
    if row is None:
        raise PacketNotFound("no such red packet")
    return row


def _may_see(p: Platform, packet: Row, user_id: str) -> bool:
    if user_id in (packet["sender_id"], packet["recipient_id"]):
        return True
    if packet["group_id"] is None:
        return False
    try:
        get_group(p, packet["group_id"], user_id)
    except NotFound:  # not a member
        return False
    return True


def claim(p: Platform, packet_id: str, claimer_id: str) -> dict[str, Any]:
    """Claim a share: the recipient of a personal packet, a member of a group packet's group.
    Returns the claim (the same one again on a repeat)."""
    packet = _packet(p, packet_id)
    if not _may_see(p, packet, claimer_id):
        raise PacketNotFound("no such red packet")  # not yours: it does not exist for you
    unit = _unit_of_packet(p, packet_id)
    result: dict[str, Any] = p.commands.submit(unit, ClaimRedPacket(packet_id, claimer_id))
    return result


def _claimed(packet: Row, share: Row) -> dict[str, Any]:
    return {
        "packet_id": packet["id"],
        "sender_id": packet["sender_id"],
        "claimer_id": share["claimer_id"],
        "seq": share["seq"],
        "amount_fen": share["amount_fen"],
        "message": packet["message"],
        "claimed_at_ms": share["claimed_at_ms"],
    }


def handle_claim(ctx: WriteContext, c: ClaimRedPacket) -> dict[str, Any]:
    tx = ctx.tx
    packet = store.load_packet(tx, c.packet_id)
    if packet is None:
        raise PacketNotFound("no such red packet")
    mine = store.share_of(tx, c.packet_id, c.claimer_id)
    if mine is not None:
        return _claimed(packet, mine)
    if packet["kind"] == PERSONAL and c.claimer_id != packet["recipient_id"]:
        raise NotForYou("this red packet is for someone else")
    now_ms = clock.now_ms()
    if packet["status"] == "REFUNDED" or now_ms >= packet["expires_at_ms"]:
        raise PacketExpired("this red packet has expired")
    share = store.next_share(tx, c.packet_id) if packet["status"] == "ACTIVE" else None
    if share is None:
        raise PacketEmpty("every share of this red packet has been claimed")
    if not store.take_share(tx, c.packet_id, share["seq"], c.claimer_id, now_ms):
        raise ClaimRaced("the share was taken concurrently")
    amount = int(share["amount_fen"])
    if not store.count_claim(tx, c.packet_id, amount, now_ms):
        raise ClaimRaced("the red packet changed concurrently")
    if packet["claimed_count"] + 1 == packet["shares"]:
        RED_PACKET.move(tx, c.packet_id, "ACTIVE", "FINISHED")
    _pay_claimer(ctx, c.packet_id, share["seq"], c.claimer_id, amount)
    taken = store.share_of(tx, c.packet_id, c.claimer_id)
    assert taken is not None
    return _claimed(packet, taken)


def _pay_claimer(ctx: WriteContext, packet_id: str, seq: int, claimer_id: str, amount: int) -> None:
    holding = unit_account(HOLDING, ctx.unit)
    target = ctx.platform.unit_of(claimer_id)
    ref = f"{packet_id}-{seq}"
    if target == ctx.unit:
        post(
            ctx,
            "redpacket.claim",
            ref,
            [debit(holding, amount), credit(user_account(claimer_id), amount)],
        )
        return
    post(
        ctx,
        "redpacket.claim.out",
        ref,
        [debit(holding, amount), credit(in_transit(ctx.unit, target), amount)],
    )
    payload = {
        "packet_id": packet_id,
        "seq": seq,
        "claimer_id": claimer_id,
        "amount_fen": amount,
        "source_unit": ctx.unit,
    }
    messages.send(ctx, target, TOPIC, payload)


def credit_claim(ctx: WriteContext, payload: dict[str, Any]) -> None:
    """``redpacket.credit`` consumer (the claimer's unit; the inbox makes it once)."""
    amount = int(payload["amount_fen"])
    post(
        ctx,
        "redpacket.claim.in",
        f"{payload['packet_id']}-{payload['seq']}",
        [
            debit(in_transit(ctx.unit, payload["source_unit"]), amount),
            credit(user_account(payload["claimer_id"]), amount),
        ],
    )


def claim_committed(tx: Tx, payload: dict[str, Any]) -> bool:
    share = store.share_of(tx, payload["packet_id"], payload["claimer_id"])
    return share is not None


# --- the refund of what is unclaimed -------------------------------------------------------


def refund_expired(p: Platform) -> dict[str, int]:
    """Every packet past its 24 hours with shares left: the rest back to the sender, once per
    packet (a guarded ACTIVE -> REFUNDED move in the same command as the voucher)."""
    cfg = config_of(p)
    now_ms = clock.now_ms()
    out = {"packets": 0, "refunded_fen": 0}
    for unit in range(len(p.units)):
        with p.units[unit].read() as tx:
            due = store.expired_packet_ids(tx, now_ms, cfg.refund_batch_max)
        for packet_id in due:
            amount: int = p.commands.submit(unit, RefundRedPacket(packet_id))
            out["packets"] += 1 if amount else 0
            out["refunded_fen"] += amount
    return out


def handle_refund(ctx: WriteContext, c: RefundRedPacket) -> int:
    packet = store.load_packet(ctx.tx, c.packet_id)
    if packet is None or packet["status"] != "ACTIVE":
        return 0  # finished, or refunded already: nothing to do (exactly once)
    if clock.now_ms() < packet["expires_at_ms"]:
        return 0
    left = int(packet["total_fen"]) - int(packet["claimed_fen"])
    assert left > 0, f"an ACTIVE red packet {c.packet_id} has nothing left"
    legs = [
        debit(unit_account(HOLDING, ctx.unit), left),
        credit(user_account(packet["sender_id"]), left),
    ]
    post(ctx, "redpacket.refund", c.packet_id, legs, "unclaimed after 24 hours")
    RED_PACKET.move(ctx.tx, c.packet_id, "ACTIVE", "REFUNDED", refunded_fen=left)
    params = {"amount_fen": left, "message": packet["message"]}
    key = f"redpacket-refund:{c.packet_id}"
    notices.send(ctx, packet["sender_id"], "red_packet_refunded", params, dedupe_key=key)
    return left


# --- reads -----------------------------------------------------------------------------------


def get_packet(p: Platform, packet_id: str, viewer_id: str) -> dict[str, Any]:
    """The packet and who claimed what, for its sender, recipient or group members."""
    packet = _packet(p, packet_id)
    if not _may_see(p, packet, viewer_id):
        raise PacketNotFound("no such red packet")
    with p.units[_unit_of_packet(p, packet_id)].read() as tx:
        shares = store.shares_of(tx, packet_id)
    claims = [_claimed(packet, s) for s in shares if s["claimer_id"] is not None]
    claims.sort(key=lambda c: c["seq"])
    return public_packet(packet) | {"claims": claims}


def sent_by(p: Platform, sender_id: str, limit: int = 50) -> list[dict[str, Any]]:
    with p.db_for(sender_id).read() as tx:
        rows = store.packets_sent(tx, sender_id, max(1, min(limit, 200)))
    return [public_packet(r) for r in rows]
