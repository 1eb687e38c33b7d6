"""Red packet use cases: groups, sending (personal, fixed, random), claiming, the refund of what
is unclaimed. See docs/decisions/0712-red-packet-split.md and 0713-red-packet-claims.md.

Money: sender's balance -> the sender unit's red-packet holding account (one voucher when the
packet is sent) -> each claimer's balance (one voucher a claim; across units through in-transit
and a ``redpacket.credit`` message, like a transfer) and, after 24 hours, what is left -> back to
the sender (one voucher, exactly once: the packet's ACTIVE -> REFUNDED move guards it).
"""

from __future__ import annotations

import random
import re
import secrets
from dataclasses import dataclass
from typing import Any

from qianbao.ledger.chart import unit_account, user_account
from qianbao.ledger.service import credit, debit, open_account, post
from qianbao.members import service as members
from qianbao.money_movement import guards
from qianbao.money_movement.ports import Movement
from qianbao.notices import service as notices
from qianbao.platform import idempotency
from qianbao.platform.clock import clock, start_of_day_ms
from qianbao.platform.db import Row, Tx
from qianbao.platform.errors import NotFound
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.runtime import Platform
from qianbao.platform.states import StateMachine
from qianbao.platform.writer import WriteContext
from qianbao.redpackets import split, store
from qianbao.redpackets.config import RedPacketConfig
from qianbao.redpackets.config import load as load_config
from qianbao.redpackets.errors import (
    DailyLimitExceeded,
    GroupInvalid,
    GroupNotFound,
    PacketInvalid,
    PacketLimitExceeded,
)

PERSONAL, FIXED, RANDOM = "PERSONAL", "FIXED", "RANDOM"
TOPIC = "redpacket.credit"
HOLDING = "red_packet_holding"
_TEXT = re.compile(r"^[^\x00-\x1f{}]*$")
RED_PACKET = StateMachine(
    "red packet",
    "red_packets",
    {"ACTIVE": {"FINISHED", "REFUNDED"}},
    initial={"ACTIVE"},
)


def config_of(p: Platform) -> RedPacketConfig:
    return load_config(p.settings.extra.get("redpackets"))


# --- groups ----------------------------------------------------------------------------------


def create_group(p: Platform, owner_id: str, name: str, member_ids: list[str]) -> dict[str, Any]:
    """A group: its owner and ``member_ids`` (each a registered user)."""
    cfg = config_of(p)
    if not isinstance(name, str) or not 1 <= len(name) <= 60 or not _TEXT.match(name):
        raise GroupInvalid("a group name is 1-60 characters of plain text")
    ids = list(dict.fromkeys([owner_id, *member_ids]))
    if len(ids) > cfg.group_members_max:
        raise GroupInvalid(f"a group has at most {cfg.group_members_max} members")
    for user_id in ids:
        try:
            members.get_user(p, user_id)
        except (NotFound, ValueError):
            raise GroupInvalid(f"no such user {user_id!r}") from None
    group_id = new_id(bucket_of(owner_id))
    now_ms = clock.now_ms()
    with p.global_db.transaction() as tx:
        store.insert_group(tx, group_id, owner_id, name, now_ms)
        store.add_members(tx, group_id, ids, now_ms)
    return get_group(p, group_id, owner_id)


def get_group(p: Platform, group_id: str, viewer_id: str) -> dict[str, Any]:
    """A group, for its members only (to anyone else it does not exist)."""
    with p.global_db.read() as tx:
        group = store.load_group(tx, group_id)
        if group is None or not store.is_member(tx, group_id, viewer_id):
            raise GroupNotFound("no such group")
        ids = store.group_member_ids(tx, group_id)
    return {
        "group_id": group_id,
        "name": group["name"],
        "owner_id": group["owner_id"],
        "members": ids,
    }


def my_groups(p: Platform, user_id: str) -> list[dict[str, Any]]:
    with p.global_db.read() as tx:
        rows = store.groups_of(tx, user_id)
    return [{"group_id": r["id"], "name": r["name"], "owner_id": r["owner_id"]} for r in rows]


# --- sending ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendRedPacket:
    """Command (sender's unit): the packet, already split, paid from the sender's balance."""

    packet_id: str
    sender_id: str
    sender_name: str
    kind: str
    amounts: list[int]
    recipient_id: str | None
    group_id: str | None
    message: str
    request_id: str
    daily_limit_fen: int  # the sender's KYC daily limit
    day_max_fen: int  # red packets' own limit a day
    expires_after_s: int

    @property
    def total_fen(self) -> int:
        return sum(self.amounts)

    def fingerprint(self) -> dict[str, Any]:
        """The sender's ask (a retry splits again: the amounts are not part of it)."""
        return {
            "kind": self.kind,
            "total_fen": self.total_fen,
            "shares": len(self.amounts),
            "recipient_id": self.recipient_id,
            "group_id": self.group_id,
            "message": self.message,
        }


def _check_message(cfg: RedPacketConfig, message: Any) -> str:
    if not isinstance(message, str) or len(message) > cfg.message_max_chars:
        raise PacketInvalid(f"the message is at most {cfg.message_max_chars} characters")
    if not _TEXT.match(message):
        raise PacketInvalid("the message is plain text")
    return message or "恭喜发财，大吉大利"


def _amounts(cfg: RedPacketConfig, kind: str, amount_fen: int, shares: Any) -> list[int]:
    if kind not in (PERSONAL, FIXED, RANDOM):
        raise PacketInvalid("kind is PERSONAL, FIXED or RANDOM")
    if isinstance(shares, bool) or not isinstance(shares, int) or not 1 <= shares <= cfg.shares_max:
        raise PacketInvalid(f"shares must be a whole number from 1 to {cfg.shares_max}")
    if kind == PERSONAL and shares != 1:
        raise PacketInvalid("a personal red packet is one share")
    if kind == FIXED:
        if amount_fen > cfg.share_max_fen:
            raise PacketLimitExceeded(f"a share is at most {cfg.share_max_fen} fen")
        amounts = split.split_fixed(amount_fen, shares)
    elif amount_fen < shares * split.MIN_SHARE_FEN:
        raise PacketInvalid("every share must be at least 0.01 CNY")
    else:
        amounts = split.split_random(amount_fen, shares, random.Random(secrets.randbits(64)))
    if sum(amounts) > cfg.packet_max_fen:
        raise PacketLimitExceeded(f"a red packet is at most {cfg.packet_max_fen} fen")
    if max(amounts) > cfg.share_max_fen:
        raise PacketLimitExceeded(f"a share is at most {cfg.share_max_fen} fen")
    return amounts


def send(
    p: Platform,
    sender_id: str,
    *,
    kind: str,
    amount_fen: int,
    shares: int = 1,
    recipient_id: str | None = None,
    group_id: str | None = None,
    message: str = "",
    request_id: str,
    pay_password: str | None = None,
) -> dict[str, Any]:
    """Send a red packet. ``amount_fen`` is the total (PERSONAL, RANDOM) or each share's
    amount (FIXED). Idempotent by ``request_id`` (same ask: the first packet)."""
    cfg = config_of(p)
    guards.check_amount(p, amount_fen)
    idempotency.check_key(request_id)
    text = _check_message(cfg, message)
    amounts = _amounts(cfg, kind, amount_fen, shares)
    _check_audience(p, sender_id, kind, recipient_id, group_id, len(amounts))
    allowed = guards.authorise(p, sender_id, sum(amounts), pay_password)
    command = SendRedPacket(
        packet_id=new_id(bucket_of(sender_id)),
        sender_id=sender_id,
        sender_name=str(allowed.payer["name"]),
        kind=kind,
        amounts=amounts,
        recipient_id=recipient_id if kind == PERSONAL else None,
        group_id=group_id if kind != PERSONAL else None,
        message=text,
        request_id=request_id,
        daily_limit_fen=allowed.daily_limit_fen,
        day_max_fen=cfg.day_max_fen,
        expires_after_s=cfg.expires_after_s,
    )
    row: Row = p.commands.submit(p.unit_of(sender_id), command)
    return public_packet(row)


def _check_audience(
    p: Platform,
    sender_id: str,
    kind: str,
    recipient_id: str | None,
    group_id: str | None,
    shares: int,
) -> None:
    if kind == PERSONAL:
        if not isinstance(recipient_id, str) or recipient_id == sender_id or group_id:
            raise PacketInvalid("a personal red packet goes to one other user (recipient_id)")
        try:
            members.get_user(p, recipient_id)
        except (NotFound, ValueError):
            raise PacketInvalid("no such recipient") from None
        return
    if not isinstance(group_id, str) or recipient_id:
        raise PacketInvalid("a group red packet names its group (group_id)")
    group = get_group(p, group_id, sender_id)  # the sender must be a member
    if shares > len(group["members"]):
        raise PacketInvalid(f"at most one share per member ({len(group['members'])})")


def handle_send(ctx: WriteContext, c: SendRedPacket) -> Row:
    tx = ctx.tx
    scope = f"redpacket:{c.sender_id}"
    first = idempotency.claim(tx, scope, c.request_id, c.fingerprint(), c.packet_id)
    if first is not None:
        return _load(tx, first)
    payee = c.recipient_id or c.group_id or ""
    movement = Movement(
        "RED_PACKET",
        c.packet_id,
        c.sender_id,
        c.total_fen,
        payee,
        command=c,
        request_key=f"{scope}:{c.request_id}",
    )
    guards.check_risk(ctx, movement)  # the risk decision (freezes, lists, rules) as for any payment
    now_ms = clock.now_ms()
    today = store.sent_since(tx, c.sender_id, start_of_day_ms(clock.today()))
    if today + c.total_fen > c.day_max_fen:
        raise DailyLimitExceeded(f"red packets are at most {c.day_max_fen} fen a day")
    guards.count_daily(ctx, c.sender_id, c.total_fen, c.daily_limit_fen)
    holding = unit_account(HOLDING, ctx.unit)
    open_account(tx, holding, f"u{ctx.unit}")
    legs = [debit(user_account(c.sender_id), c.total_fen), credit(holding, c.total_fen)]
    post(ctx, "redpacket.send", c.packet_id, legs, c.message)
    store.insert_packet(
        tx,
        {
            "id": c.packet_id,
            "sender_id": c.sender_id,
            "kind": c.kind,
            "recipient_id": c.recipient_id,
            "group_id": c.group_id,
            "total_fen": c.total_fen,
            "shares": len(c.amounts),
            "message": c.message,
            "request_id": c.request_id,
            "expires_at_ms": now_ms + c.expires_after_s * 1000,
            "now": now_ms,
        },
    )
    store.insert_shares(tx, c.packet_id, c.amounts)
    if c.recipient_id is not None:
        params = {"sender": c.sender_name, "amount_fen": c.total_fen, "message": c.message}
        key = f"redpacket:{c.packet_id}"
        notices.send(ctx, c.recipient_id, "red_packet_received", params, dedupe_key=key)
    return _load(tx, c.packet_id)


def _load(tx: Tx, packet_id: str) -> Row:
    row = store.load_packet(tx, packet_id)
    assert row is not None, f"red packet {packet_id} vanished"
    return row


def public_packet(row: Row) -> dict[str, Any]:
    return {
        "packet_id": row["id"],
        "sender_id": row["sender_id"],
        "kind": row["kind"],
        "recipient_id": row["recipient_id"],
        "group_id": row["group_id"],
        "total_fen": row["total_fen"],
        "shares": row["shares"],
        "claimed_count": row["claimed_count"],
        "claimed_fen": row["claimed_fen"],
        "refunded_fen": row["refunded_fen"],
        "message": row["message"],
        "status": row["status"],
        "expires_at_ms": row["expires_at_ms"],
        "created_at_ms": row["created_at_ms"],
    }
