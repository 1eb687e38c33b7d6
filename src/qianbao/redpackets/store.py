"""Red packets' SQL: packets and shares (the sender's unit), groups (global)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from qianbao.platform.db import Row, Tx

# --- groups (global) -----------------------------------------------------------------------


def insert_group(tx: Tx, group_id: str, owner_id: str, name: str, now_ms: int) -> None:
    tx.execute(
        "INSERT INTO red_groups (id, owner_id, name, created_at_ms) VALUES (:id, :o, :n, :now)",
        {"id": group_id, "o": owner_id, "n": name, "now": now_ms},
    )


def add_members(tx: Tx, group_id: str, user_ids: Sequence[str], now_ms: int) -> None:
    tx.executemany(
        "INSERT INTO red_group_members (group_id, user_id, joined_at_ms) VALUES (:g, :u, :now)"
        " ON CONFLICT (group_id, user_id) DO NOTHING",
        [{"g": group_id, "u": u, "now": now_ms} for u in user_ids],
    )


def load_group(tx: Tx, group_id: str) -> Row | None:
    return tx.one("SELECT * FROM red_groups WHERE id = :id", {"id": group_id})


def group_member_ids(tx: Tx, group_id: str) -> list[str]:
    rows = tx.all(
        "SELECT user_id FROM red_group_members WHERE group_id = :g ORDER BY joined_at_ms, user_id",
        {"g": group_id},
    )
    return [str(r["user_id"]) for r in rows]


def is_member(tx: Tx, group_id: str, user_id: str) -> bool:
    row = tx.one(
        "SELECT 1 AS x FROM red_group_members WHERE group_id = :g AND user_id = :u",
        {"g": group_id, "u": user_id},
    )
    return row is not None


def groups_of(tx: Tx, user_id: str) -> list[Row]:
    return tx.all(
        "SELECT g.* FROM red_groups g JOIN red_group_members m ON m.group_id = g.id"
        " WHERE m.user_id = :u ORDER BY g.created_at_ms DESC",
        {"u": user_id},
    )


# --- packets (the sender's unit) -----------------------------------------------------------


def insert_packet(tx: Tx, row: Mapping[str, Any]) -> None:
    tx.execute(
        "INSERT INTO red_packets (id, sender_id, kind, recipient_id, group_id, total_fen,"
        " shares, claimed_count, claimed_fen, refunded_fen, message, status, request_id,"
        " expires_at_ms, created_at_ms, updated_at_ms) VALUES (:id, :sender_id, :kind,"
        " :recipient_id, :group_id, :total_fen, :shares, 0, 0, 0, :message, 'ACTIVE',"
        " :request_id, :expires_at_ms, :now, :now)",
        row,
    )


def insert_shares(tx: Tx, packet_id: str, amounts: Sequence[int]) -> None:
    for seq, amount in enumerate(amounts, start=1):
        tx.execute(
            "INSERT INTO red_packet_shares (packet_id, seq, amount_fen) VALUES (:p, :s, :a)",
            {"p": packet_id, "s": seq, "a": amount},
        )


def load_packet(tx: Tx, packet_id: str) -> Row | None:
    return tx.one("SELECT * FROM red_packets WHERE id = :id", {"id": packet_id})


def sent_since(tx: Tx, sender_id: str, since_ms: int) -> int:
    return int(
        tx.scalar(
            "SELECT COALESCE(SUM(total_fen), 0) FROM red_packets WHERE sender_id = :s"
            " AND created_at_ms >= :since",
            {"s": sender_id, "since": since_ms},
        )
    )


def share_of(tx: Tx, packet_id: str, claimer_id: str) -> Row | None:
    return tx.one(
        "SELECT * FROM red_packet_shares WHERE packet_id = :p AND claimer_id = :c",
        {"p": packet_id, "c": claimer_id},
    )


def next_share(tx: Tx, packet_id: str) -> Row | None:
    return tx.one(
        "SELECT * FROM red_packet_shares WHERE packet_id = :p AND claimer_id IS NULL"
        " ORDER BY seq LIMIT 1",
        {"p": packet_id},
    )


def take_share(tx: Tx, packet_id: str, seq: int, claimer_id: str, now_ms: int) -> int:
    """Guarded pop: the share goes to ``claimer_id`` only if nobody has it (1 if taken)."""
    return tx.execute(
        "UPDATE red_packet_shares SET claimer_id = :c, claimed_at_ms = :now"
        " WHERE packet_id = :p AND seq = :s AND claimer_id IS NULL",
        {"p": packet_id, "s": seq, "c": claimer_id, "now": now_ms},
    )


def count_claim(tx: Tx, packet_id: str, amount_fen: int, now_ms: int) -> int:
    return tx.execute(
        "UPDATE red_packets SET claimed_count = claimed_count + 1,"
        " claimed_fen = claimed_fen + :a, updated_at_ms = :now"
        " WHERE id = :id AND status = 'ACTIVE' AND claimed_count < shares",
        {"id": packet_id, "a": amount_fen, "now": now_ms},
    )


def shares_of(tx: Tx, packet_id: str) -> list[Row]:
    return tx.all(
        "SELECT * FROM red_packet_shares WHERE packet_id = :p ORDER BY seq", {"p": packet_id}
    )


def expired_packet_ids(tx: Tx, now_ms: int, limit: int) -> list[str]:
    rows = tx.all(
        "SELECT id FROM red_packets WHERE status = 'ACTIVE' AND expires_at_ms <= :now"
        " ORDER BY expires_at_ms, id LIMIT :limit",
        {"now": now_ms, "limit": limit},
    )
    return [str(r["id"]) for r in rows]


def packets_sent(tx: Tx, sender_id: str, limit: int) -> list[Row]:
    return tx.all(
        "SELECT * FROM red_packets WHERE sender_id = :s ORDER BY created_at_ms DESC LIMIT :limit",
        {"s": sender_id, "limit": limit},
    )
