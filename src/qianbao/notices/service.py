"""Sending a notice: ``send`` writes it in the caller's transaction (the notification outbox),
``deliver_due`` hands what is due to the gateways outside any transaction and records the
outcome through the unit writer. See docs/decisions/0710-notification-outbox.md.

A notice lives in the user's home unit. ``send`` from a command running in that unit writes the
row in the command's own transaction; from another unit it writes a transactional message
(``notice.requested``) whose idempotent consumer writes the row in the home unit. Either way the
notice exists if and only if the caller's change committed, and one (user, dedupe key) is one
notice however often it is asked for.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from qianbao.notices import model, store, templates
from qianbao.notices.config import NoticeConfig
from qianbao.notices.errors import DedupeKeyInvalid
from qianbao.notices.gateway import NoticeGateway
from qianbao.notices.seal import seal
from qianbao.platform import messages
from qianbao.platform.clock import clock
from qianbao.platform.db import Row, Tx
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.runtime import Platform
from qianbao.platform.states import StateMachine
from qianbao.platform.writer import WriteContext

log = logging.getLogger("qianbao.notices")
TOPIC = "notice.requested"
_KEY = re.compile(r"^[\w.:@/+-]{1,120}$")
# Born PENDING in the caller's transaction; SENDING while a gateway has it; SENT once a provider
# accepted it; back to PENDING when the provider was busy (or the worker died holding it);
# FAILED when a provider refused it for good or after too many attempts.
NOTICE = StateMachine(
    "notice",
    "notices",
    {"PENDING": {"SENDING"}, "SENDING": {"SENT", "PENDING", "FAILED"}},
    initial={"PENDING"},
)


@dataclass
class Notices:
    """What bootstrap attaches to the platform (``p.notices``): the gateway and the limits."""

    gateway: NoticeGateway
    config: NoticeConfig


@dataclass(frozen=True)
class SendNotice:
    """Command: send ``kind`` to ``user_id`` (runs in the user's home unit)."""

    user_id: str
    kind: str
    params: dict[str, Any]
    dedupe_key: str


def wiring(p: Platform) -> Notices:
    wired: Notices | None = getattr(p, "notices", None)
    assert wired is not None, "notices are not wired (bootstrap.wire_notices)"
    return wired


def _check(user_id: str, kind: str, params: Any, dedupe_key: str) -> dict[str, Any]:
    spec = templates.kind_of(kind)
    clean = templates.check_params(spec, params)
    if not isinstance(dedupe_key, str) or not _KEY.match(dedupe_key):
        raise DedupeKeyInvalid("dedupe_key: 1-120 letters, digits or . : @ / + - _")
    bucket_of(user_id)  # raises ValueError for an id without a route
    return clean


def send(
    target: WriteContext | Platform,
    user_id: str,
    kind: str,
    params: dict[str, Any],
    *,
    dedupe_key: str,
) -> str:
    """Send a notice; returns its id. Inside a command (``WriteContext``) it is part of that
    command's transaction; with a ``Platform`` it is a command of its own in the user's unit.
    Bad input (unknown kind, wrong parameters, a bad key) raises a 4xx error and writes nothing.
    """
    clean = _check(user_id, kind, params, dedupe_key)
    if isinstance(target, Platform):
        command = SendNotice(user_id, kind, clean, dedupe_key)
        result: str = target.commands.submit(target.unit_of(user_id), command)
        return result
    ctx = target
    home = ctx.platform.unit_of(user_id)
    if home == ctx.unit:
        return _write(ctx, user_id, kind, clean, dedupe_key)
    notice_id = new_id(bucket_of(user_id))
    payload = {"id": notice_id, "user_id": user_id, "kind": kind, "params": clean}
    messages.send(ctx, home, TOPIC, payload | {"dedupe_key": dedupe_key})
    return notice_id


def handle_send_notice(ctx: WriteContext, command: SendNotice) -> str:
    return _write(ctx, command.user_id, command.kind, command.params, command.dedupe_key)


def _row(
    ctx: WriteContext,
    notice_id: str,
    user_id: str,
    kind: str,
    params: dict[str, Any],
    dedupe_key: str,
) -> dict[str, Any]:
    public, secret = templates.split_secret(templates.kind_of(kind), params)
    return {
        "id": notice_id,
        "user_id": user_id,
        "kind": kind,
        "dedupe_key": dedupe_key,
        "params": json.dumps(public, sort_keys=True, ensure_ascii=False),
        "sealed": seal(ctx.platform.settings.secret_key, notice_id, secret),
        "now": clock.now_ms(),
    }


def _write(
    ctx: WriteContext, user_id: str, kind: str, params: dict[str, Any], dedupe_key: str
) -> str:
    """The notice row in this (the user's home) unit, once per (user, dedupe key)."""
    existing = store.find_notice(ctx.tx, user_id, dedupe_key)
    if existing is not None:
        return str(existing["id"])
    notice_id = new_id(bucket_of(user_id))
    store.insert_notice(ctx.tx, _row(ctx, notice_id, user_id, kind, params, dedupe_key))
    return notice_id


def accept_requested(ctx: WriteContext, payload: dict[str, Any]) -> None:
    """``notice.requested`` consumer (home unit): the row, unless that key was seen already."""
    row = _row(
        ctx,
        payload["id"],
        payload["user_id"],
        payload["kind"],
        payload["params"],
        payload["dedupe_key"],
    )
    store.insert_notice_once(ctx.tx, row)


def requested_committed(tx: Tx, payload: dict[str, Any]) -> bool:
    """Check-back: the message was written in the caller's own transaction, so a PREPARED one
    that is visible committed with it."""
    return True


# --- reads -----------------------------------------------------------------------------------


def public_notice(row: Row) -> dict[str, Any]:
    return {
        "notice_id": row["id"],
        "kind": row["kind"],
        "status": row["status"],
        "params": json.loads(row["params"]),
        "channel": row["channel"],
        "language": row["language"],
        "body": row["body"],
        "attempts": row["attempts"],
        "deliver_after_ms": row["deliver_after_ms"],
        "created_at_ms": row["created_at_ms"],
        "sent_at_ms": row["sent_at_ms"],
        "last_error": row["last_error"],
    }


def list_notices(
    p: Platform, user_id: str, kind: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The user's notices, newest first (their own only: the read is keyed by the caller)."""
    if kind is not None:
        templates.kind_of(kind)
    with p.db_for(user_id).read() as tx:
        rows = store.user_notices(tx, user_id, kind, max(1, min(limit, 200)))
    return [public_notice(r) for r in rows]


_DIGITS = re.compile(r"\d{4,}")


def delivery_log(
    p: Platform, user_id: str, kind: str | None = None, *, reveal: bool = False
) -> list[dict[str, Any]]:
    """What the providers accepted for ``user_id`` (the gateway's own log), oldest first. The
    text of a kind with secrets (a one-time code) is masked unless ``reveal`` (what the phone
    shows; tests): an operator reading the log must not be able to log in as the user."""
    if kind is not None:
        templates.kind_of(kind)
    rows = [dict(r) for r in wiring(p).gateway.log(user_id, kind)]
    if not reveal:
        for row in rows:
            if templates.kind_of(row["kind"]).secret:
                row["body"] = _DIGITS.sub(lambda m: "*" * len(m.group()), row["body"])
    return rows


def stats(p: Platform) -> dict[str, int]:
    """Notices by status over every unit (for operators)."""
    total: dict[str, int] = {}
    for db in p.units:
        with db.read() as tx:
            for status, n in store.count_by_status(tx).items():
                total[status] = total.get(status, 0) + n
    return total


def prefs_of(tx: Tx, user_id: str) -> model.Prefs:
    row = store.load_prefs(tx, user_id)
    if row is None:
        return model.Prefs()
    return model.Prefs(
        language=row["language"],
        channel=row["channel"],
        email=row["email"],
        quiet_start_min=int(row["quiet_start_min"]),
        quiet_end_min=int(row["quiet_end_min"]),
    )
