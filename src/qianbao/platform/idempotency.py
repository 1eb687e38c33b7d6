"""Idempotency keys: the same key with the same request returns the first result.

A key is claimed inside the command's own transaction, so a command that fails releases its key
with its savepoint, and one that commits keeps it with its effect. The same key with a different
request is ``IDEMPOTENCY_KEY_REUSED``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from qianbao.platform.clock import clock
from qianbao.platform.db import Tx
from qianbao.platform.errors import IdempotencyKeyReused, InvalidArgument

KEY_MAX_CHARS = 64


def request_hash(request: dict[str, Any]) -> str:
    """A digest of the request's fields (plain values: str, int, bool, None)."""
    return hashlib.sha256(repr(sorted(request.items())).encode()).hexdigest()


def check_key(key: str) -> str:
    if not key or len(key) > KEY_MAX_CHARS or not key.isprintable():
        raise InvalidArgument(f"request id must be 1–{KEY_MAX_CHARS} printable characters")
    return key


def claim(tx: Tx, scope: str, key: str, request: dict[str, Any], result_ref: str) -> str | None:
    """Claim ``key`` for ``result_ref``. Returns None when new, or the first request's ref."""
    digest = request_hash(request)
    fresh = tx.execute(
        "INSERT INTO idempotency_keys (scope, key, request_hash, result_ref, created_at_ms)"
        " VALUES (:scope, :key, :hash, :ref, :now) ON CONFLICT (scope, key) DO NOTHING",
        {
            "scope": scope,
            "key": check_key(key),
            "hash": digest,
            "ref": result_ref,
            "now": clock.now_ms(),
        },
    )
    if fresh:
        return None
    row = tx.one(
        "SELECT request_hash, result_ref FROM idempotency_keys WHERE scope = :scope AND key = :key",
        {"scope": scope, "key": key},
    )
    assert row is not None
    if row["request_hash"] != digest:
        raise IdempotencyKeyReused(f"request id {key!r} was already used for another request")
    return str(row["result_ref"])
