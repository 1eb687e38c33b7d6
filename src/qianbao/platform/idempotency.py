"""Idempotency keys: the same key with the same request returns the first result.

A key is claimed inside the command's own transaction, so a command that fails releases its key
with its savepoint, and one that commits keeps it with its effect. The same key with a different
request is ``IDEMPOTENCY_KEY_REUSED``.

Inside a unit writer command (``ctx.tx``) a claim is decided in memory (``_Claims``): against
the keys of the running batch, the writer's cache of keys it committed recently, and — when the
writer re-runs a batch precisely — a fresh read. A key unknown to the cache is taken as new and
written with the batch's other keys in one ``INSERT ... ON CONFLICT DO NOTHING``; if that
insert finds a key that was there already, the batch runs again precisely (``Unverified``), so
the replay still gets its first answer.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

from qianbao.platform.clock import clock
from qianbao.platform.db import Tx
from qianbao.platform.errors import IdempotencyKeyReused, InvalidArgument
from qianbao.platform.uow import BatchTx, Unverified, WriteContext, own_tables

KEY_MAX_CHARS = 64
RECENT_KEYS_MAX = 100_000  # per writer: replays of recent keys are answered without a re-run
_INSERT_KEY = (
    "INSERT INTO idempotency_keys (scope, key, request_hash, result_ref, created_at_ms)"
    " VALUES (:scope, :key, :hash, :ref, :now) ON CONFLICT (scope, key) DO NOTHING"
)


def request_hash(request: dict[str, Any]) -> str:
    """A digest of the request's fields (plain values: str, int, bool, None).

    The text hashed is ``repr(sorted(request.items()))``, the digests stored since the first
    key, spelled out item by item (a dict's keys never tie, so sorting the keys sorts the
    items): twice as fast as building the tuples and letting ``repr`` walk them."""
    text = ", ".join([f"({key!r}, {request[key]!r})" for key in sorted(request)])
    return hashlib.sha256(f"[{text}]".encode()).hexdigest()


def check_key(key: str) -> str:
    if not key or len(key) > KEY_MAX_CHARS or not key.isprintable():
        raise InvalidArgument(f"request id must be 1–{KEY_MAX_CHARS} printable characters")
    return key


def derived_key(prefix: str, key: str) -> str:
    """The key of a step a request takes on the caller's behalf (the card top-up of a repayment):
    ``prefix-key`` while that fits, else ``prefix#`` and a SHA-256 of the key, so every valid client
    key (up to 64 characters) derives a valid key. Short keys keep their readable form, so
    requests made before long keys were hashed still find their first result."""
    check_key(key)
    plain = f"{prefix}-{key}"
    if len(plain) <= KEY_MAX_CHARS:
        return plain
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{prefix}#{digest}"[:KEY_MAX_CHARS]


def claim(tx: Tx, scope: str, key: str, request: dict[str, Any], result_ref: str) -> str | None:
    """Claim ``key`` for ``result_ref``. Returns None when new, or the first request's ref.

    Given a writer command's ``ctx.tx`` this is ``claim_in(ctx, ...)`` (decided in memory,
    written with the batch); given any other transaction it is one statement at once."""
    if isinstance(tx, BatchTx):
        return claim_in(tx.ctx, scope, key, request, result_ref)
    digest = request_hash(request)
    fresh = tx.execute(
        _INSERT_KEY,
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


def claim_in(
    ctx: WriteContext, scope: str, key: str, request: dict[str, Any], result_ref: str
) -> str | None:
    """``claim`` inside a writer command: None when new, or the first request's ref (also when
    the first request is in the same batch); ``IDEMPOTENCY_KEY_REUSED`` for another body."""
    claims: _Claims = ctx.participant("idempotency", _Claims)
    digest = request_hash(request)
    ident = (scope, check_key(key))
    first = claims.lookup(ident)
    if first is None:
        claims.add(ident, digest, result_ref)
        return None
    if first[0] != digest:
        raise IdempotencyKeyReused(f"request id {key!r} was already used for another request")
    return first[1]


class _Claims:
    """Batch participant: the keys the batch claimed, written with one statement."""

    tables = own_tables("idempotency_keys")

    def __init__(self, ctx: WriteContext) -> None:
        self.db = ctx.db
        self.precise = ctx.precise
        self.recent: OrderedDict[tuple[str, str], tuple[str, str]] = ctx.cache(
            "idempotency.recent", OrderedDict
        )
        self.batch: dict[tuple[str, str], tuple[str, str]] = {}
        self.rows: list[dict[str, Any]] = []
        self.written: list[tuple[tuple[str, str], tuple[str, str]]] = []

    def lookup(self, ident: tuple[str, str]) -> tuple[str, str] | None:
        """(request hash, result ref) of the key's first claim, if known."""
        hit = self.batch.get(ident) or self.recent.get(ident)
        if hit is not None or not self.precise:
            return hit
        row = self.db.one(
            "SELECT request_hash, result_ref FROM idempotency_keys"
            " WHERE scope = :scope AND key = :key",
            {"scope": ident[0], "key": ident[1]},
        )
        return None if row is None else (str(row["request_hash"]), str(row["result_ref"]))

    def add(self, ident: tuple[str, str], digest: str, result_ref: str) -> None:
        self.batch[ident] = (digest, result_ref)
        self.rows.append(
            {
                "scope": ident[0],
                "key": ident[1],
                "hash": digest,
                "ref": result_ref,
                "now": clock.now_ms(),
            }
        )

    def mark(self) -> tuple[int, int]:
        return len(self.rows), len(self.written)

    def rollback_to(self, mark: tuple[int, int] | None) -> None:
        rows, written = mark or (0, 0)
        for row in self.rows[rows:]:
            self.batch.pop((row["scope"], row["key"]), None)
        del self.rows[rows:]
        for ident, _ in self.written[written:]:  # flushed inside a rolled-back savepoint
            self.batch.pop(ident, None)
        del self.written[written:]

    def flush(self, tx: Tx) -> bool:
        if not self.rows:
            return False
        if tx.execute_values(_INSERT_KEY, self.rows) != len(self.rows):
            raise Unverified("an idempotency key taken as new was already claimed")
        self.written += [((r["scope"], r["key"]), (r["hash"], r["ref"])) for r in self.rows]
        self.rows.clear()  # ``batch`` stays: later claims in the batch still see these keys
        return True

    def before_commit(self, tx: Tx) -> None:
        self.flush(tx)

    def after_commit(self) -> None:
        for ident, first in self.written:
            self.recent[ident] = first
        while len(self.recent) > RECENT_KEYS_MAX:
            self.recent.popitem(last=False)
