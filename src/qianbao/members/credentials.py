"""API keys of merchants and operators: check, rotate with an overlap window, revoke.

A key is ``<key_id>.<secret>``; the platform stores the SHA-256 of the secret. Its life is a
state machine: ``ACTIVE`` → ``RETIRING`` (rotated: it keeps working until ``expires_at_ms``, the
overlap window in which the owner deploys the new key) → ``REVOKED``; ``ACTIVE`` → ``REVOKED``
at once. A key past its expiry is refused whatever its status says. Checked keys are answered
from ``p.key_cache`` (the expiry is checked on every use); a revocation clears it in this
process and, through the revocation epoch, in every other within a second (``revocation.py``).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from qianbao.members import revocation, store
from qianbao.members.errors import (
    ApiKeyInvalid,
    ApiKeyLast,
    ApiKeyLimit,
    ApiKeyNotFound,
    KeyOverlapInvalid,
    OperatorNotFound,
)
from qianbao.members.sessions import sha256
from qianbao.platform.clock import clock
from qianbao.platform.db import Row, Tx
from qianbao.platform.runtime import Platform
from qianbao.platform.states import StateMachine

ACTIVE, RETIRING, REVOKED = "ACTIVE", "RETIRING", "REVOKED"
API_KEY = StateMachine(
    "API key",
    "api_keys",
    {ACTIVE: {RETIRING, REVOKED}, RETIRING: {REVOKED}},
    key="key_id",
    stamp=None,
    initial={ACTIVE},
)
PREFIX = {"merchant": "mk_", "operator": "ok_"}
KEYS_PER_OWNER_MAX = 5  # live (ACTIVE or RETIRING) keys of one owner
OVERLAP_MAX_MINUTES = 30 * 24 * 60
_KEY_CACHE_MAX = 50_000


@dataclass(frozen=True)
class KeyOwner:
    kind: str  # merchant | operator
    id: str
    key_id: str


def issue(tx: Tx, owner_type: str, owner_id: str) -> str:
    """A new ACTIVE key in the caller's transaction; returns it whole (shown once)."""
    key_id = PREFIX[owner_type] + secrets.token_hex(8)
    secret = secrets.token_urlsafe(24)
    store.insert_key(tx, key_id, owner_type, owner_id, sha256(secret), clock.now_ms())
    return f"{key_id}.{secret}"


def _live(row: Row, now_ms: int) -> bool:
    if row["status"] == ACTIVE:
        return True
    return row["status"] == RETIRING and row["expires_at_ms"] > now_ms


def owner_of_key(p: Platform, api_key: str) -> KeyOwner:
    """The owner of a live key, or ``API_KEY_INVALID`` (unknown, wrong, expired or revoked)."""
    revocation.refresh(p)
    digest, now_ms = sha256(api_key), clock.now_ms()
    hit = p.key_cache.get(digest)
    if hit is None:
        key_id, _, secret = api_key.partition(".")
        with p.global_db.read() as tx:
            row = store.key_by_id(tx, key_id)
        if row is None or not _live(row, now_ms):
            raise ApiKeyInvalid("API key unknown, expired or revoked")
        if not hmac.compare_digest(row["secret_hash"], sha256(secret)):
            raise ApiKeyInvalid("API key unknown, expired or revoked")
        if len(p.key_cache) >= _KEY_CACHE_MAX:
            p.key_cache.clear()
        expires = int(row["expires_at_ms"]) if row["status"] == RETIRING else 0
        hit = p.key_cache[digest] = (row["owner_type"], row["owner_id"], key_id, expires)
    if hit[3] and hit[3] <= now_ms:
        raise ApiKeyInvalid("API key unknown, expired or revoked")
    return KeyOwner(hit[0], hit[1], hit[2])


def public_key(row: Row, now_ms: int) -> dict[str, Any]:
    expired = row["status"] == RETIRING and row["expires_at_ms"] <= now_ms
    return {
        "key_id": row["key_id"],
        "status": "EXPIRED" if expired else row["status"],
        "created_at_ms": row["created_at_ms"],
        "expires_at_ms": row["expires_at_ms"] or None,
        "revoked_at_ms": row["revoked_at_ms"] or None,
    }


def list_keys(p: Platform, owner_type: str, owner_id: str) -> list[dict[str, Any]]:
    now_ms = clock.now_ms()
    with p.global_db.read() as tx:
        return [public_key(r, now_ms) for r in store.keys_of(tx, owner_type, owner_id)]


def overlap_ms(p: Platform, overlap_minutes: int | None) -> int:
    minutes = p.settings.api_key_overlap_minutes if overlap_minutes is None else overlap_minutes
    if not 0 <= minutes <= OVERLAP_MAX_MINUTES:
        raise KeyOverlapInvalid(f"overlap must be 0–{OVERLAP_MAX_MINUTES} minutes")
    return minutes * 60_000


def rotate(
    p: Platform, owner_type: str, owner_id: str, overlap_minutes: int | None = None
) -> dict[str, Any]:
    """A new key for the owner; its ACTIVE keys retire and keep working for the overlap window
    (0: they stop now). Returns the new key (shown once) and the keys that retire."""
    window_ms, now_ms = overlap_ms(p, overlap_minutes), clock.now_ms()
    with p.global_db.transaction() as tx:
        rows = store.keys_of(tx, owner_type, owner_id)
        live = [r for r in rows if _live(r, now_ms)]
        retiring = [r for r in live if r["status"] == ACTIVE]
        if len(live) + 1 - (0 if window_ms else len(retiring)) > KEYS_PER_OWNER_MAX:
            raise ApiKeyLimit(f"at most {KEYS_PER_OWNER_MAX} live keys: revoke one first")
        for row in retiring:
            if window_ms:
                API_KEY.move(tx, row["key_id"], ACTIVE, RETIRING, expires_at_ms=now_ms + window_ms)
            else:
                API_KEY.move(tx, row["key_id"], ACTIVE, REVOKED, revoked_at_ms=now_ms)
        api_key = issue(tx, owner_type, owner_id)
        revocation.revoked_in(tx, p)  # retired keys' cached entries carry no expiry yet
    return {
        "api_key": api_key,
        "key_id": api_key.partition(".")[0],
        "retiring": [r["key_id"] for r in retiring],
        "retiring_until_ms": now_ms + window_ms if window_ms else None,
    }


def revoke(p: Platform, owner_type: str, owner_id: str, key_id: str) -> dict[str, Any]:
    """Revoke one of the owner's keys now. The owner's last ACTIVE key cannot be revoked
    (rotate first), so an owner never locks itself out by mistake. Idempotent."""
    now_ms = clock.now_ms()
    with p.global_db.transaction() as tx:
        row = store.key_by_id(tx, key_id)
        if row is None or (row["owner_type"], row["owner_id"]) != (owner_type, owner_id):
            raise ApiKeyNotFound("no such key")
        if row["status"] == REVOKED:
            return public_key(row, now_ms)
        actives = [r for r in store.keys_of(tx, owner_type, owner_id) if r["status"] == ACTIVE]
        if row["status"] == ACTIVE and len(actives) == 1:
            raise ApiKeyLast("this is the last active key: rotate to a new one first")
        API_KEY.move(tx, key_id, row["status"], REVOKED, revoked_at_ms=now_ms)
        revocation.revoked_in(tx, p)
        revoked = store.key_by_id(tx, key_id)
    assert revoked is not None
    return public_key(revoked, now_ms)


def revoke_any(p: Platform, key_id: str) -> dict[str, Any]:
    """An operator revokes any key now (a leaked key), even its owner's last one."""
    now_ms = clock.now_ms()
    with p.global_db.transaction() as tx:
        row = store.key_by_id(tx, key_id)
        if row is None:
            raise ApiKeyNotFound("no such key")
        if row["status"] != REVOKED:
            API_KEY.move(tx, key_id, row["status"], REVOKED, revoked_at_ms=now_ms)
            revocation.revoked_in(tx, p)
        revoked = store.key_by_id(tx, key_id)
    assert revoked is not None
    return {**public_key(revoked, now_ms), "owner_type": row["owner_type"]}


def operator_id(p: Platform, name: str) -> str:
    with p.global_db.read() as tx:
        row = store.operator_by_name(tx, name)
    if row is None:
        raise OperatorNotFound(f"no operator {name!r}")
    return str(row["id"])


# --- web sessions: the merchant centre's and the back office's --------------------------------
WEB_SESSION_MAX_MS = 12 * 3_600_000
MERCHANT_WEB = "merchant-web"
OPS_WEB = "ops-web"  # the back office (``web/ops_shell.py``): an operator's shift
OPS_SESSION_MAX_MS = 8 * 3_600_000
SESSION_MAX_MS = {MERCHANT_WEB: WEB_SESSION_MAX_MS, OPS_WEB: OPS_SESSION_MAX_MS}


def _web_mac(p: Platform, key_id: str, issued_ms: int, purpose: str = MERCHANT_WEB) -> str:
    text = f"{purpose}|{key_id}|{issued_ms}".encode()
    return hmac.new(p.settings.secret_key.encode(), text, "sha256").hexdigest()[:32]


def web_session(p: Platform, api_key: str, purpose: str = MERCHANT_WEB) -> str:
    """A web console's cookie after a login with ``api_key``: the key's id, when, and a MAC
    under the platform's secret and the console (``purpose``: a merchant centre cookie is no back
    office cookie). The secret part of the key never goes to the browser; the session ends after
    its console's maximum (12 hours, 8 for the back office) or as soon as the key is revoked or
    expires."""
    return _web_cookie(p, owner_of_key(p, api_key).key_id, purpose)


def _web_cookie(p: Platform, key_id: str, purpose: str) -> str:
    issued = clock.now_ms()
    return f"{key_id}.{issued}.{_web_mac(p, key_id, issued, purpose)}"


def web_session_of_owner(p: Platform, owner_type: str, owner_id: str) -> str:
    """The merchant centre's cookie for an owner who proved who they are another way (a
    merchant's password, ``onboarding/logins.py``): it refers to the owner's newest ACTIVE key,
    so revoking the owner's keys ends the session too."""
    with p.global_db.read() as tx:
        active = [r for r in store.keys_of(tx, owner_type, owner_id) if r["status"] == ACTIVE]
    if not active:
        raise ApiKeyInvalid("no active API key: an operator must issue one")
    return _web_cookie(p, str(active[0]["key_id"]), MERCHANT_WEB)


def owner_of_web_session(p: Platform, value: str, purpose: str = MERCHANT_WEB) -> KeyOwner | None:
    key_id, _, rest = value.partition(".")
    issued_text, _, mac = rest.partition(".")
    if not issued_text.isdigit() or len(issued_text) > 16:
        return None
    issued, now_ms = int(issued_text), clock.now_ms()
    if not hmac.compare_digest(mac, _web_mac(p, key_id, issued, purpose)):
        return None
    if not 0 <= now_ms - issued < SESSION_MAX_MS[purpose]:
        return None
    with p.global_db.read() as tx:
        row = store.key_by_id(tx, key_id)
    if row is None or not _live(row, now_ms):
        return None
    return KeyOwner(row["owner_type"], row["owner_id"], key_id)
