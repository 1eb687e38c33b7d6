"""The delivery worker: take what is due from each unit, decide (quiet hours, the collection
window, the user's channel and language), claim it through the unit writer, hand it to the
gateway outside any transaction, and record the outcome through the writer.

At least once towards the provider: a worker that dies after handing a notice over leaves it
SENDING; after the lease it is handed over again under the same message id, which the provider
answers with its first receipt, so the phone gets it once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from qianbao.members import service as members
from qianbao.notices import model, store, templates
from qianbao.notices.config import NoticeConfig
from qianbao.notices.gateway import GatewayRejected, GatewayUnavailable, Outgoing
from qianbao.notices.seal import unseal
from qianbao.notices.service import NOTICE, prefs_of, wiring
from qianbao.platform.clock import clock
from qianbao.platform.db import Row, Tx
from qianbao.platform.errors import NotFound
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext

log = logging.getLogger("qianbao.notices")
MAX_BACKOFF_S = 3600


@dataclass
class Plan:
    """One pass over one unit: notices to push later, and those to send now."""

    defer: dict[str, int] = field(default_factory=dict)  # notice id -> deliver after (ms)
    send: list[tuple[Row, Outgoing]] = field(default_factory=list)
    fail: dict[str, str] = field(default_factory=dict)  # notice id -> why


def deliver_due(p: Platform, *, rounds: int = 10) -> dict[str, int]:
    """Deliver every due notice of every unit (bounded: ``rounds`` passes of ``batch_max`` a
    unit). Returns counts by outcome. Safe to run concurrently: claims are guarded moves."""
    totals = {"sent": 0, "deferred": 0, "retry": 0, "failed": 0, "requeued": 0}
    for _ in range(rounds):
        moved = 0
        for unit in range(len(p.units)):
            counts = deliver_unit(p, unit)
            for name, n in counts.items():
                totals[name] += n
            moved += counts["sent"] + counts["retry"] + counts["failed"]
        if not moved:
            break
    return totals


def deliver_unit(p: Platform, unit: int) -> dict[str, int]:
    cfg = wiring(p).config
    now_ms = clock.now_ms()
    requeued = _requeue_stale(p, unit, now_ms - cfg.sending_lease_s * 1000, cfg.batch_max)
    with p.units[unit].read() as tx:
        plan = _plan(p, tx, store.due_notices(tx, now_ms, cfg.batch_max), now_ms)
    writer = p.writers[unit]
    claimed: set[str] = writer.submit(partial(_claim, plan=plan))
    outcomes: list[tuple[str, str, dict[str, Any]]] = []
    for row, message in plan.send:
        if row["id"] in claimed:
            outcomes.append(_hand_over(p, cfg, row, message, now_ms))
    if outcomes:
        writer.submit(partial(_record, outcomes=outcomes))
    counts = {"sent": 0, "deferred": len(plan.defer), "retry": 0, "failed": 0}
    counts["failed"] += len(plan.fail)
    for _, outcome, _ in outcomes:
        counts[outcome] += 1
    return counts | {"requeued": requeued}


def _plan(p: Platform, tx: Tx, rows: list[Row], now_ms: int) -> Plan:
    plan = Plan()
    collection_today: dict[str, Any] = {}  # user -> the local day of their last reminder
    for row in rows:
        kind = templates.kind_of(row["kind"])
        prefs = prefs_of(tx, row["user_id"])
        last = None
        if kind.category == templates.COLLECTION:
            if row["user_id"] not in collection_today:
                sent_ms = store.last_collection_sent_ms(tx, row["user_id"])
                collection_today[row["user_id"]] = (
                    None if sent_ms is None else model.local_day(sent_ms)
                )
            last = collection_today[row["user_id"]]
        at_ms = model.deliver_at(now_ms, kind.category, prefs, last)
        if at_ms > now_ms:
            plan.defer[row["id"]] = at_ms
            continue
        if kind.category == templates.COLLECTION:
            collection_today[row["user_id"]] = model.local_day(now_ms)
        try:
            plan.send.append((row, _outgoing(p, row, kind, prefs)))
        except (NotFound, GatewayRejected) as exc:
            plan.fail[row["id"]] = str(exc)[:200]
    return plan


def _outgoing(p: Platform, row: Row, kind: templates.Kind, prefs: model.Prefs) -> Outgoing:
    channel = "SMS" if kind.sms_only else prefs.channel
    if channel == "SMS":
        address = str(members.get_user(p, row["user_id"])["phone"])
    elif channel == "EMAIL":
        if not prefs.email:
            raise GatewayRejected("no e-mail address")
        address = prefs.email
    else:
        address = f"app:{row['user_id']}"
    params = json.loads(row["params"]) | unseal(p.settings.secret_key, row["id"], row["sealed"])
    body = templates.render(kind, prefs.language, params)
    return Outgoing(row["id"], channel, address, row["user_id"], kind.name, prefs.language, body)


def _claim(ctx: WriteContext, plan: Plan) -> set[str]:
    now_ms = clock.now_ms()
    for notice_id, at_ms in plan.defer.items():
        store.defer_notice(ctx.tx, notice_id, at_ms, now_ms)
    for notice_id, why in plan.fail.items():
        if NOTICE.move_all(ctx.tx, {"id": notice_id}, "PENDING", "SENDING"):
            NOTICE.move(ctx.tx, notice_id, "SENDING", "FAILED", last_error=why, sealed=None)
    claimed = set()
    for row, _ in plan.send:
        attempts = int(row["attempts"]) + 1
        if NOTICE.move_all(ctx.tx, {"id": row["id"]}, "PENDING", "SENDING", attempts=attempts):
            claimed.add(str(row["id"]))
    return claimed


def _hand_over(
    p: Platform, cfg: NoticeConfig, row: Row, message: Outgoing, now_ms: int
) -> tuple[str, str, dict[str, Any]]:
    """Give one claimed notice to the gateway (no transaction open): what to record."""
    kind = templates.kind_of(row["kind"])
    try:
        ref = wiring(p).gateway.deliver(message)
    except GatewayRejected as exc:
        return row["id"], "failed", {"last_error": str(exc)[:200], "sealed": None}
    except GatewayUnavailable as exc:
        attempts = int(row["attempts"]) + 1
        if attempts >= cfg.max_attempts:
            return row["id"], "failed", {"last_error": str(exc)[:200], "sealed": None}
        backoff_s = min(cfg.retry_base_s * 2 ** (attempts - 1), MAX_BACKOFF_S)
        after = {"deliver_after_ms": now_ms + backoff_s * 1000, "last_error": str(exc)[:200]}
        return row["id"], "retry", after
    return (
        row["id"],
        "sent",
        {
            "channel": message.channel,
            "language": message.language,
            "body": None if kind.secret else message.body,
            "provider_ref": ref,
            "sent_at_ms": clock.now_ms(),
            "sealed": None,
            "last_error": None,
        },
    )


_TARGET = {"sent": "SENT", "failed": "FAILED", "retry": "PENDING"}


def _record(ctx: WriteContext, outcomes: list[tuple[str, str, dict[str, Any]]]) -> None:
    for notice_id, outcome, columns in outcomes:
        NOTICE.move_all(ctx.tx, {"id": notice_id}, "SENDING", _TARGET[outcome], **columns)


def _requeue_stale(p: Platform, unit: int, before_ms: int, limit: int) -> int:
    """SENDING notices older than the lease: their worker died; hand them over again."""
    with p.units[unit].read() as tx:
        stale = store.stale_sending(tx, before_ms, limit)
    if not stale:
        return 0

    def requeue(ctx: WriteContext) -> int:
        moved = 0
        for notice_id in stale:
            moved += NOTICE.move_all(ctx.tx, {"id": notice_id}, "SENDING", "PENDING")
        return moved

    result: int = p.writers[unit].submit(requeue)
    if result:
        log.warning("unit %s: %s notices lost while SENDING handed over again", unit, result)
    return result
