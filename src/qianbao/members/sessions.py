"""User sessions: a bearer token per login, listed and revoked by its owner or an operator.

A session row keeps only the SHA-256 of its token, who opened it (client and address, for the
owner's list) and when it ends (expiry, or revocation). Tokens are answered from the
per-process ``p.token_cache`` until their expiry, as before; a revocation clears that cache
here and, through the revocation epoch, in every other process within a second
(``revocation.py``). A user keeps at most ``sessions_per_user_max`` live sessions: a new login
beyond it ends the oldest.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from qianbao.members import revocation, store
from qianbao.members.errors import SessionNotFound, TokenInvalid
from qianbao.platform.clock import clock
from qianbao.platform.db import Row
from qianbao.platform.runtime import Platform

TOKEN_PREFIX, DEVICE_PREFIX = "ut_", "dv_"
_TOKEN_CACHE_MAX = 100_000
CLIENT_MAX_CHARS, IP_MAX_CHARS = 120, 45


@dataclass(frozen=True)
class Client:
    """Who is logging in: the client's address, its user agent, and the device token a former
    login on this device handed out (empty on a new device)."""

    ip: str = ""
    agent: str = ""
    device_token: str = ""
    # the answer to a new-device challenge (members/stepup.py), when the login repeats itself
    challenge_id: str = ""
    code: str = ""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def open_session(p: Platform, user_id: str, client: Client, now_ms: int) -> tuple[str, str]:
    """A new session for ``user_id``; returns (token, session id). The oldest live sessions
    beyond the per-user bound are revoked in the same transaction."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session_id = "ss_" + secrets.token_hex(10)
    with p.global_db.transaction() as tx:
        store.insert_session(
            tx,
            {
                "session_id": session_id,
                "token_hash": sha256(token),
                "user_id": user_id,
                "created_at_ms": now_ms,
                "expires_at_ms": now_ms + p.settings.token_ttl_minutes * 60_000,
                "client": client.agent[:CLIENT_MAX_CHARS],
                "ip": client.ip[:IP_MAX_CHARS],
            },
        )
        live = store.live_sessions(tx, user_id, now_ms)
        extra = [s["session_id"] for s in live[p.settings.sessions_per_user_max :]]
        if extra and store.revoke_sessions(tx, user_id, extra, now_ms, "session limit"):
            revocation.revoked_in(tx, p)
    return token, session_id


def user_for_token(p: Platform, token: str) -> str:
    """The user of a live token. Answered from ``p.token_cache`` until the token expires, unless
    a revocation (in any process) cleared the cache since."""
    revocation.refresh(p)
    digest, now_ms = sha256(token), clock.now_ms()
    cache = p.token_cache
    hit = cache.get(digest)
    if hit is None:
        with p.global_db.read() as tx:
            row = store.session_by_token(tx, digest)
        if row is None or row["revoked_at_ms"]:
            raise TokenInvalid("token unknown, expired or revoked")
        if len(cache) >= _TOKEN_CACHE_MAX:
            cache.clear()
        hit = cache[digest] = (str(row["user_id"]), int(row["expires_at_ms"]))
    if hit[1] <= now_ms:
        raise TokenInvalid("token unknown, expired or revoked")
    return hit[0]


def public_session(row: Row, current_id: str = "") -> dict[str, Any]:
    return {
        "session_id": row["session_id"],
        "created_at_ms": row["created_at_ms"],
        "expires_at_ms": row["expires_at_ms"],
        "client": row["client"],
        "ip": row["ip"],
        "current": row["session_id"] == current_id,
    }


def current_session_id(p: Platform, token: str) -> str:
    with p.global_db.read() as tx:
        row = store.session_by_token(tx, sha256(token))
    return str(row["session_id"]) if row else ""


def list_sessions(p: Platform, user_id: str, current_token: str = "") -> list[dict[str, Any]]:
    """The user's live sessions, newest first; ``current`` marks the one asking."""
    current = current_session_id(p, current_token) if current_token else ""
    with p.global_db.read() as tx:
        rows = store.live_sessions(tx, user_id, clock.now_ms())
    return [public_session(r, current) for r in rows]


def revoke(p: Platform, user_id: str, session_ids: list[str] | None, by: str) -> int:
    """End the user's sessions (every live one when ``session_ids`` is None). Idempotent: a
    session already ended counts 0 and changes nothing."""
    with p.global_db.transaction() as tx:
        count = store.revoke_sessions(tx, user_id, session_ids, clock.now_ms(), by)
        if count:
            revocation.revoked_in(tx, p)
    return count


def revoke_one(p: Platform, user_id: str, session_id: str) -> dict[str, Any]:
    """The owner ends one of its sessions; another user's id is not found (no existence leak)."""
    with p.global_db.read() as tx:
        row = store.session_by_id(tx, session_id)
    if row is None or row["user_id"] != user_id:
        raise SessionNotFound("no such session")
    count = revoke(p, user_id, [session_id], "user")
    return {"session_id": session_id, "revoked": True, "changed": bool(count)}


def log_out(p: Platform, token: str) -> int:
    """End the session of ``token`` (its owner's call: the token authenticated the request)."""
    with p.global_db.read() as tx:
        row = store.session_by_token(tx, sha256(token))
    if row is None:
        return 0
    return revoke(p, str(row["user_id"]), [str(row["session_id"])], "logout")


# --- trusted devices ------------------------------------------------------------------------
def device_known(p: Platform, user_id: str, device_token: str) -> bool:
    if not device_token.startswith(DEVICE_PREFIX):
        return False
    with p.global_db.read() as tx:
        return store.device_known(tx, user_id, sha256(device_token))


def remember_device(p: Platform, user_id: str, device_token: str, now_ms: int) -> str:
    """The device token to hand back: the client's own if known, else a new one."""
    token = device_token if device_token.startswith(DEVICE_PREFIX) else ""
    token = token or DEVICE_PREFIX + secrets.token_urlsafe(24)
    with p.global_db.transaction() as tx:
        store.remember_device(tx, user_id, sha256(token), now_ms)
    return token
