"""The notification service's SQL: notices, preferences and one-time codes (unit tables), and
the gateway simulator's own database (the provider's delivery log)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qianbao.platform.db import Row, Tx
from qianbao.platform.ids import new_id

COLLECTION_KINDS = ("huabei_due_reminder", "huabei_overdue_reminder")

# --- notices -------------------------------------------------------------------------------


def find_notice(tx: Tx, user_id: str, dedupe_key: str) -> Row | None:
    return tx.one(
        "SELECT id, status FROM notices WHERE user_id = :u AND dedupe_key = :k",
        {"u": user_id, "k": dedupe_key},
    )


def insert_notice(tx: Tx, row: Mapping[str, Any]) -> None:
    """A new notice, PENDING (a plain insert: the writer stages it with the batch)."""
    tx.execute(
        "INSERT INTO notices (id, user_id, kind, dedupe_key, params, sealed, status,"
        " deliver_after_ms, attempts, created_at_ms, updated_at_ms)"
        " VALUES (:id, :user_id, :kind, :dedupe_key, :params, :sealed, 'PENDING',"
        " :now, 0, :now, :now)",
        row,
    )


def insert_notice_once(tx: Tx, row: Mapping[str, Any]) -> int:
    """The same, ignoring a notice already there for (user, dedupe key): 1 if written."""
    return tx.execute(
        "INSERT INTO notices (id, user_id, kind, dedupe_key, params, sealed, status,"
        " deliver_after_ms, attempts, created_at_ms, updated_at_ms)"
        " VALUES (:id, :user_id, :kind, :dedupe_key, :params, :sealed, 'PENDING',"
        " :now, 0, :now, :now) ON CONFLICT (user_id, dedupe_key) DO NOTHING",
        row,
    )


def notice_exists(tx: Tx, notice_id: str) -> bool:
    return tx.scalar("SELECT 1 FROM notices WHERE id = :id", {"id": notice_id}) is not None


def due_notices(tx: Tx, now_ms: int, limit: int) -> list[Row]:
    return tx.all(
        "SELECT * FROM notices WHERE status = 'PENDING' AND deliver_after_ms <= :now"
        " ORDER BY deliver_after_ms, id LIMIT :limit",
        {"now": now_ms, "limit": limit},
    )


def stale_sending(tx: Tx, before_ms: int, limit: int) -> list[str]:
    rows = tx.all(
        "SELECT id FROM notices WHERE status = 'SENDING' AND updated_at_ms < :before"
        " ORDER BY updated_at_ms LIMIT :limit",
        {"before": before_ms, "limit": limit},
    )
    return [str(r["id"]) for r in rows]


def load_notice(tx: Tx, notice_id: str) -> Row | None:
    return tx.one("SELECT * FROM notices WHERE id = :id", {"id": notice_id})


def defer_notice(tx: Tx, notice_id: str, at_ms: int, now_ms: int) -> int:
    return tx.execute(
        "UPDATE notices SET deliver_after_ms = :at, updated_at_ms = :now"
        " WHERE id = :id AND status = 'PENDING'",
        {"id": notice_id, "at": at_ms, "now": now_ms},
    )


def last_collection_sent_ms(tx: Tx, user_id: str) -> int | None:
    """When the user's last Huabei reminder went out (or is going out now)."""
    value = tx.scalar(
        "SELECT MAX(COALESCE(sent_at_ms, updated_at_ms)) FROM notices WHERE user_id = :u"
        " AND kind IN ('huabei_due_reminder', 'huabei_overdue_reminder')"
        " AND status IN ('SENDING', 'SENT')",
        {"u": user_id},
    )
    return None if value is None else int(value)


def user_notices(tx: Tx, user_id: str, kind: str | None, limit: int) -> list[Row]:
    where = " AND kind = :kind" if kind else ""
    return tx.all(
        "SELECT id, kind, dedupe_key, params, status, deliver_after_ms, attempts, channel,"
        " language, body, created_at_ms, sent_at_ms, last_error FROM notices"
        f" WHERE user_id = :u{where} ORDER BY created_at_ms DESC, id DESC LIMIT :limit",
        {"u": user_id, "kind": kind, "limit": limit},
    )


def count_by_status(tx: Tx) -> dict[str, int]:
    rows = tx.all("SELECT status, COUNT(*) AS n FROM notices GROUP BY status")
    return {str(r["status"]): int(r["n"]) for r in rows}


# --- preferences ---------------------------------------------------------------------------


def load_prefs(tx: Tx, user_id: str) -> Row | None:
    return tx.one("SELECT * FROM notice_prefs WHERE user_id = :u", {"u": user_id})


def save_prefs(tx: Tx, user_id: str, prefs: Mapping[str, Any], now_ms: int) -> None:
    tx.execute(
        "INSERT INTO notice_prefs (user_id, language, channel, email, quiet_start_min,"
        " quiet_end_min, updated_at_ms) VALUES (:u, :language, :channel, :email,"
        " :quiet_start_min, :quiet_end_min, :now) ON CONFLICT (user_id) DO UPDATE SET"
        " language = excluded.language, channel = excluded.channel, email = excluded.email,"
        " quiet_start_min = excluded.quiet_start_min, quiet_end_min = excluded.quiet_end_min,"
        " updated_at_ms = excluded.updated_at_ms",
        {"u": user_id, "now": now_ms, **prefs},
    )


# --- one-time codes ------------------------------------------------------------------------


def codes_since(tx: Tx, user_id: str, purpose: str, since_ms: int) -> int:
    return int(
        tx.scalar(
            "SELECT COUNT(*) FROM one_time_codes WHERE user_id = :u AND purpose = :p"
            " AND created_at_ms >= :since",
            {"u": user_id, "p": purpose, "since": since_ms},
        )
    )


def insert_code(tx: Tx, row: Mapping[str, Any]) -> None:
    tx.execute(
        "INSERT INTO one_time_codes (id, user_id, purpose, code_hash, status, attempts,"
        " max_attempts, expires_at_ms, notice_id, created_at_ms, updated_at_ms) VALUES"
        " (:id, :user_id, :purpose, :code_hash, 'ACTIVE', 0, :max_attempts, :expires_at_ms,"
        " :notice_id, :now, :now)",
        row,
    )


def load_code(tx: Tx, code_id: str) -> Row | None:
    return tx.one("SELECT * FROM one_time_codes WHERE id = :id", {"id": code_id})


def count_attempt(tx: Tx, code_id: str, now_ms: int) -> int:
    """One more attempt on an ACTIVE code (guarded); 1 if counted."""
    return tx.execute(
        "UPDATE one_time_codes SET attempts = attempts + 1, updated_at_ms = :now"
        " WHERE id = :id AND status = 'ACTIVE' AND attempts < max_attempts",
        {"id": code_id, "now": now_ms},
    )


# --- the gateway simulator's own database --------------------------------------------------

_GATEWAY_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS deliveries (message_id TEXT PRIMARY KEY, ref TEXT NOT NULL,"
    " channel TEXT NOT NULL, address TEXT NOT NULL, user_id TEXT NOT NULL, kind TEXT NOT NULL,"
    " language TEXT NOT NULL, body TEXT NOT NULL, accepted_at_ms INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_deliveries_user ON deliveries (user_id, accepted_at_ms)",
)


def create_gateway_schema(tx: Tx) -> None:
    for ddl in _GATEWAY_SCHEMA:
        tx.execute(ddl)


def gateway_accept(tx: Tx, message: Mapping[str, Any], now_ms: int) -> str:
    """Log a message once per message id; the reference of its first acceptance."""
    tx.execute(
        "INSERT INTO deliveries (message_id, ref, channel, address, user_id, kind, language,"
        " body, accepted_at_ms) VALUES (:message_id, :ref, :channel, :address, :user_id, :kind,"
        " :language, :body, :now) ON CONFLICT (message_id) DO NOTHING",
        {**message, "ref": "GW" + new_id(0), "now": now_ms},
    )
    return str(
        tx.scalar("SELECT ref FROM deliveries WHERE message_id = :m", {"m": message["message_id"]})
    )


def gateway_log(tx: Tx, user_id: str, kind: str | None, limit: int) -> list[Row]:
    where = " AND kind = :kind" if kind else ""
    return tx.all(
        "SELECT message_id, ref, channel, address, user_id, kind, language, body,"
        f" accepted_at_ms FROM deliveries WHERE user_id = :u{where}"
        " ORDER BY accepted_at_ms, message_id LIMIT :limit",
        {"u": user_id, "kind": kind, "limit": limit},
    )


def gateway_log_all(tx: Tx, limit: int) -> list[Row]:
    return tx.all(
        "SELECT * FROM deliveries ORDER BY accepted_at_ms DESC, message_id DESC LIMIT :limit",
        {"limit": limit},
    )
