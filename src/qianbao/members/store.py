"""Members' SQL for sessions, API-key lifecycles, the revocation epoch and the login throttle
(the older member queries still live in ``service.py``)."""

from __future__ import annotations

from qianbao.platform.db import Row, Tx


def merchant_by_name(tx: Tx, name: str) -> Row | None:
    return tx.one("SELECT * FROM merchants WHERE name = :n", {"n": name})


# --- the revocation epoch ---------------------------------------------------------------------
def read_epoch(tx: Tx, kind: str) -> int:
    value = tx.scalar("SELECT epoch FROM credential_epochs WHERE kind = :k", {"k": kind})
    return int(value or 0)


def bump_epoch(tx: Tx, kind: str) -> None:
    tx.execute(
        "INSERT INTO credential_epochs (kind, epoch) VALUES (:k, 1)"
        " ON CONFLICT (kind) DO UPDATE SET epoch = credential_epochs.epoch + 1",
        {"k": kind},
    )


# --- sessions -----------------------------------------------------------------------------------
def insert_session(tx: Tx, row: dict[str, object]) -> None:
    tx.execute(
        "INSERT INTO user_sessions (session_id, token_hash, user_id, created_at_ms, expires_at_ms,"
        " revoked_at_ms, revoked_by, client, ip) VALUES (:session_id, :token_hash, :user_id,"
        " :created_at_ms, :expires_at_ms, 0, '', :client, :ip)",
        row,
    )


def session_by_token(tx: Tx, token_hash: str) -> Row | None:
    return tx.one("SELECT * FROM user_sessions WHERE token_hash = :h", {"h": token_hash})


def session_by_id(tx: Tx, session_id: str) -> Row | None:
    return tx.one("SELECT * FROM user_sessions WHERE session_id = :s", {"s": session_id})


def live_sessions(tx: Tx, user_id: str, now_ms: int) -> list[Row]:
    """The user's sessions neither revoked nor expired, newest first."""
    return tx.all(
        "SELECT * FROM user_sessions WHERE user_id = :u AND revoked_at_ms = 0"
        " AND expires_at_ms > :now ORDER BY created_at_ms DESC, session_id DESC",
        {"u": user_id, "now": now_ms},
    )


def revoke_sessions(
    tx: Tx, user_id: str, session_ids: list[str] | None, now_ms: int, by: str
) -> int:
    """Revoke the user's live sessions (``session_ids``; every one when None). Returns how many
    were live: revoking a revoked session changes nothing."""
    sql = (
        "UPDATE user_sessions SET revoked_at_ms = :now, revoked_by = :by"
        " WHERE user_id = :u AND revoked_at_ms = 0"
    )
    args: dict[str, object] = {"now": now_ms, "by": by[:60], "u": user_id}
    if session_ids is None:
        return tx.execute(sql, args)
    count = 0
    for session_id in session_ids:
        count += tx.execute(sql + " AND session_id = :s", {**args, "s": session_id})
    return count


def device_known(tx: Tx, user_id: str, device_hash: str) -> bool:
    row = tx.one(
        "SELECT 1 AS x FROM user_devices WHERE user_id = :u AND device_hash = :d",
        {"u": user_id, "d": device_hash},
    )
    return row is not None


def remember_device(tx: Tx, user_id: str, device_hash: str, now_ms: int) -> None:
    tx.execute(
        "INSERT INTO user_devices (user_id, device_hash, created_at_ms, last_login_ms)"
        " VALUES (:u, :d, :now, :now) ON CONFLICT (user_id, device_hash)"
        " DO UPDATE SET last_login_ms = :now",
        {"u": user_id, "d": device_hash, "now": now_ms},
    )


# --- API keys -----------------------------------------------------------------------------------
def insert_key(
    tx: Tx, key_id: str, owner_type: str, owner_id: str, secret_hash: str, now_ms: int
) -> None:
    tx.execute(
        "INSERT INTO api_keys (key_id, owner_type, owner_id, secret_hash, status, created_at_ms,"
        " expires_at_ms, revoked_at_ms) VALUES (:k, :t, :o, :h, 'ACTIVE', :now, 0, 0)",
        {"k": key_id, "t": owner_type, "o": owner_id, "h": secret_hash, "now": now_ms},
    )


def key_by_id(tx: Tx, key_id: str) -> Row | None:
    return tx.one("SELECT * FROM api_keys WHERE key_id = :k", {"k": key_id})


def keys_of(tx: Tx, owner_type: str, owner_id: str) -> list[Row]:
    return tx.all(
        "SELECT * FROM api_keys WHERE owner_type = :t AND owner_id = :o"
        " ORDER BY created_at_ms DESC, key_id",
        {"t": owner_type, "o": owner_id},
    )


def operator_role(tx: Tx, operator_id: str) -> str:
    row = tx.one("SELECT role FROM operators WHERE id = :id", {"id": operator_id})
    return str(row["role"]) if row else ""


def operator_by_name(tx: Tx, name: str) -> Row | None:
    return tx.one("SELECT * FROM operators WHERE name = :n", {"n": name})


# --- the login throttle ---------------------------------------------------------------------------
def throttle_rows(tx: Tx, keys: list[str]) -> list[Row]:
    rows: list[Row] = []
    for key in keys:
        row = tx.one("SELECT * FROM login_throttle WHERE throttle_key = :k", {"k": key})
        if row is not None:
            rows.append(row)
    return rows


def count_failure(tx: Tx, key: str, now_ms: int, window_start_ms: int) -> int:
    """One more failure under ``key`` (a count older than the window starts again at 1),
    atomically; returns the count."""
    tx.execute(
        "INSERT INTO login_throttle (throttle_key, failures, first_failure_ms, blocked_until_ms)"
        " VALUES (:k, 1, :now, 0) ON CONFLICT (throttle_key) DO UPDATE SET"
        " failures = CASE WHEN login_throttle.first_failure_ms < :ws THEN 1"
        " ELSE login_throttle.failures + 1 END,"
        " first_failure_ms = CASE WHEN login_throttle.first_failure_ms < :ws THEN :now"
        " ELSE login_throttle.first_failure_ms END",
        {"k": key, "now": now_ms, "ws": window_start_ms},
    )
    return int(tx.scalar("SELECT failures FROM login_throttle WHERE throttle_key = :k", {"k": key}))


def block_until(tx: Tx, key: str, until_ms: int) -> None:
    tx.execute(
        "UPDATE login_throttle SET blocked_until_ms = :u WHERE throttle_key = :k"
        " AND blocked_until_ms < :u",
        {"k": key, "u": until_ms},
    )


def clear_throttle(tx: Tx, key: str) -> None:
    tx.execute("DELETE FROM login_throttle WHERE throttle_key = :k", {"k": key})


# --- step-up challenges -------------------------------------------------------------------------
def insert_challenge(tx: Tx, challenge_id: str, user_id: str, purpose: str, now_ms: int) -> None:
    tx.execute(
        "INSERT INTO step_up_challenges (challenge_id, user_id, purpose, created_at_ms,"
        " granted_at_ms, used_at_ms) VALUES (:c, :u, :p, :now, 0, 0)",
        {"c": challenge_id, "u": user_id, "p": purpose, "now": now_ms},
    )


def open_challenge(tx: Tx, challenge_id: str, user_id: str) -> Row | None:
    return tx.one(
        "SELECT * FROM step_up_challenges WHERE challenge_id = :c AND user_id = :u"
        " AND used_at_ms = 0",
        {"c": challenge_id, "u": user_id},
    )


def grant_challenge(tx: Tx, challenge_id: str, now_ms: int) -> None:
    tx.execute(
        "UPDATE step_up_challenges SET granted_at_ms = :now WHERE challenge_id = :c"
        " AND granted_at_ms = 0",
        {"c": challenge_id, "now": now_ms},
    )


def use_challenge(tx: Tx, challenge_id: str, now_ms: int) -> int:
    return tx.execute(
        "UPDATE step_up_challenges SET used_at_ms = :now WHERE challenge_id = :c"
        " AND used_at_ms = 0",
        {"c": challenge_id, "now": now_ms},
    )


def use_grant(tx: Tx, user_id: str, purpose: str, since_ms: int, now_ms: int) -> int:
    """Use the user's newest unused grant of ``purpose`` given since ``since_ms``: 1 if one
    was there (a guarded update, so two payments cannot share one grant), else 0."""
    row = tx.one(
        "SELECT challenge_id FROM step_up_challenges WHERE user_id = :u AND purpose = :p"
        " AND granted_at_ms >= :since AND used_at_ms = 0 ORDER BY granted_at_ms DESC",
        {"u": user_id, "p": purpose, "since": max(since_ms, 1)},
    )
    return use_challenge(tx, str(row["challenge_id"]), now_ms) if row else 0


# --- housekeeping -------------------------------------------------------------------------------
def purge_sessions(tx: Tx, before_ms: int) -> int:
    """Sessions that ended (expired or revoked) before ``before_ms``."""
    return tx.execute(
        "DELETE FROM user_sessions WHERE expires_at_ms < :b"
        " OR (revoked_at_ms > 0 AND revoked_at_ms < :b)",
        {"b": before_ms},
    )


def purge_throttle(tx: Tx, window_start_ms: int, now_ms: int) -> int:
    """Throttle counts past their window that no longer hold anyone back."""
    return tx.execute(
        "DELETE FROM login_throttle WHERE first_failure_ms < :ws AND blocked_until_ms < :now",
        {"ws": window_start_ms, "now": now_ms},
    )


def purge_challenges(tx: Tx, before_ms: int) -> int:
    return tx.execute("DELETE FROM step_up_challenges WHERE created_at_ms < :b", {"b": before_ms})
